// Mistakes in declarative agents
pipeline {
    agent {
        kubernetes {
            label 'a'
            labl 'typo'
            yamlFile 'does-not-exist.yaml'
        }
    }
    agent any
    stages {
        stage('x') {
            agent { kubernetes 'what' }
            steps { sh 'true' }
        }
        stage('y') {
            agent {
                kubernetes {
                    yaml 'spec: {}'
                    if (true) { label 'no' }
                }
            }
            steps { sh 'true' }
        }
    }
}
