// $( in a GString is a Groovy compile error: the README writes \$(...)
podTemplate(label: 'x', yaml: """
spec:
  containers:
  - name: jnlp
    args: ['$(JENKINS_SECRET)', '$(JENKINS_NAME)']
""") {
}
