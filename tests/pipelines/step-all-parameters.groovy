// Every parameter of the podTemplate step (reference §4.1)
podTemplate(
    cloud: 'kubernetes',
    label: 'all-params',
    name: 'everything',
    namespace: 'ci',
    inheritFrom: 'base',
    containers: [containerTemplate(name: 'main', image: 'alpine:3.19', command: 'sleep', args: 'infinity')],
    envVars: [envVar(key: 'POD_LEVEL', value: 'yes')],
    volumes: [emptyDirVolume(mountPath: '/cache', memory: true)],
    workspaceVolume: emptyDirWorkspaceVolume(memory: true),
    annotations: [podAnnotation(key: 'team', value: 'build')],
    imagePullSecrets: ['registry-a', 'registry-b'],
    instanceCap: 4,
    idleMinutes: 10,
    slaveConnectTimeout: 300,
    activeDeadlineSeconds: 3600,
    hostNetwork: false,
    serviceAccount: 'builder',
    schedulerName: 'custom-scheduler',
    nodeSelector: 'disk=ssd,zone=a',
    nodeUsageMode: 'NORMAL',
    runAsUser: '1000',
    runAsGroup: 1000,
    supplementalGroups: '5001,5002',
    workingDir: '/home/jenkins/work',
    yaml: '''
spec:
  tolerations:
  - key: dedicated
    operator: Equal
    value: ci
    effect: NoSchedule
''',
    yamlMergeStrategy: merge(),
    inheritYamlMergeStrategy: true,
    showRawYaml: false,
    podRetention: onFailure(),
    agentContainer: 'main',
    agentInjection: true,
) {
    node('all-params') {
        sh 'id'
    }
}
