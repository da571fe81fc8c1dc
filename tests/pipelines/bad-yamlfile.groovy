// yamlFile reads a file of the same checkout, as readTrusted does: nothing
// outside the Jenkinsfile's folder, and only regular files
pipeline {
    agent none
    stages {
        stage('absolute') { agent { kubernetes { yamlFile '/etc/passwd' } }; steps { sh 'true' } }
        stage('parent') { agent { kubernetes { yamlFile '../secrets/pod.yaml' } }; steps { sh 'true' } }
        stage('inside') { agent { kubernetes { yamlFile 'sub/../KubernetesPod.yaml' } }; steps { sh 'true' } }
        stage('folder') { agent { kubernetes { yamlFile '.' } }; steps { sh 'true' } }
        stage('runtime') { agent { kubernetes { yamlFile "${env.POD_FILE}" } }; steps { sh 'true' } }
        stage('both') { agent { kubernetes { yaml 'spec: {}'; yamlFile 'KubernetesPod.yaml' } }; steps { sh 'true' } }
    }
}
