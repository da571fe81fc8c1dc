// README: "This will be container specific"
def label = "mypod-${UUID.randomUUID().toString()}"
podTemplate(label: label) {
    node(label) {
        stage('Run shell') {
            container('mycontainer') {
                sh 'echo hello world'
            }
        }
    }
}
