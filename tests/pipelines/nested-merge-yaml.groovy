// mergeYaml / overrideYaml: nested templates with and without merge()
podTemplate(yaml: '''
spec:
  containers:
  - name: busybox
    image: busybox
    command: [cat]
    tty: true
    env:
    - name: VAR1
      value: "1"
''') {
    podTemplate(yamlMergeStrategy: merge(), yaml: '''
spec:
  containers:
  - name: busybox
    env:
    - name: VAR2
      value: "1"
''') {
        node(POD_LABEL) {
            container('busybox') { sh 'echo $VAR1 $VAR2' }
        }
    }
    podTemplate(yaml: '''
spec:
  containers:
  - name: busybox
    image: busybox:1.36
''') {
        node(POD_LABEL) { sh 'true' }
    }
}
