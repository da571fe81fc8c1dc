// README: the default jnlp agent image customised by a container template,
// or with the yaml syntax (\$ keeps Groovy from reading $(...) itself)
podTemplate(label: 'custom-jnlp', containers: [
    containerTemplate(name: 'jnlp', image: 'jenkins/jnlp-slave:3.10-1-alpine', args: '${computer.jnlpmac} ${computer.name}'),
]) {
    node('custom-jnlp') {
        sh 'java -version'
    }
}

podTemplate(label: 'custom-jnlp-yaml', yaml: """
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: jnlp
    image: 'jenkins/jnlp-slave:3.10-1-alpine'
    args: ['\$(JENKINS_SECRET)', '\$(JENKINS_NAME)']
""") {
    node('custom-jnlp-yaml') {
        sh 'java -version'
    }
}
