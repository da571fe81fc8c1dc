// badcontainername / badcontainernameyaml: the plugin's message, with every
// bad YAML name
podTemplate(label: 'bad-field', containers: [
    containerTemplate(name: 'badcontainerName_!', image: 'busybox', command: 'cat', ttyEnabled: true),
    containerTemplate(name: 'another_', image: 'busybox'),
]) {
    node('bad-field') { sh 'true' }
}
podTemplate(label: 'bad-yaml', yaml: """
apiVersion: v1
kind: Pod
metadata:
  labels:
    some-label: some-label-value
spec:
  containers:
  - name: badcontainername_!
    image: busybox
    command:
    - cat
    tty: true
  - name: badcontainername2_!
    image: busybox
    command:
    - cat
    tty: true
""") {
    node('bad-yaml') { sh 'true' }
}
