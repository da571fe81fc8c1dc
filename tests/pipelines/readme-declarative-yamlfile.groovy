// README: the pod template in a KubernetesPod.yaml next to the Jenkinsfile
pipeline {
  agent {
    kubernetes {
      label 'mypod'
      defaultContainer 'jnlp'
      yamlFile 'KubernetesPod.yaml'
    }
  }
  stages {
    stage('Build') {
      steps {
        sh 'echo in the pod'
      }
    }
  }
}
