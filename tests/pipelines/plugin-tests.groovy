// Cases after the plugin's pipeline tests (reference §8.1)
// basicPipeline: an empty yaml is allowed
podTemplate(yaml: '') {
    node(POD_LABEL) { sh 'echo OK' }
}
// runInPodWithRetention
podTemplate(label: 'retained', podRetention: always()) {
    node('retained') { sh 'true' }
}
// runWithActiveDeadlineSeconds
podTemplate(label: 'deadline', activeDeadlineSeconds: 10, containers: [
    containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: 'cat')]) {
    node('deadline') { container('busybox') { sh 'sleep 60' } }
}
// runWithStepOverriddenNamespace
podTemplate(label: 'ns-step', namespace: 'kubernetes-plugin-test-overridden-namespace') {
    node('ns-step') { sh 'echo $POD_NAMESPACE' }
}
// runInPodWithShowRawYamlFalse
podTemplate(label: 'quiet', showRawYaml: false) {
    node('quiet') { sh 'true' }
}
// runInPodWithMultipleContainers
podTemplate(label: 'multi', volumes: [emptyDirVolume(mountPath: '/my-mount')], containers: [
    containerTemplate(name: 'jnlp', image: 'jenkins/inbound-agent:3107.v665000b_51092-4'),
    containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: '/bin/cat'),
]) {
    node('multi') { container('busybox') { sh 'ls /my-mount' } }
}
// jnlpWorkingDir
podTemplate(label: 'workdir', containers: [containerTemplate(name: 'jnlp', image: 'jenkins/inbound-agent', workingDir: '/home/jenkins')]) {
    node('workdir') { sh 'pwd' }
}
// octalPermissions: YAML modes are octal
podTemplate(label: 'octal', yaml: '''
spec:
  containers:
  - name: busybox
    image: busybox
    command: [cat]
    tty: true
    volumeMounts:
    - name: cm
      mountPath: /cm
  volumes:
  - name: cm
    projected:
      defaultMode: 0777
      sources:
      - configMap: {name: cm}
''') {
    node('octal') { sh 'true' }
}
// windowsContainer: a node selector
podTemplate(label: 'windows', nodeSelector: 'kubernetes.io/os=windows', yaml: '''
spec:
  containers:
  - name: shell
    image: mcr.microsoft.com/powershell:preview-windowsservercore-1809
    command: [powershell, Start-Sleep, 999999]
''') {
    node('windows') { container('shell') { powershell 'Get-ChildItem Env: | Sort Name' } }
}
