// declarative.groovy: the deprecated label and containerTemplate options,
// podRetention onFailure(); containerTemplates wins over containerTemplate
pipeline {
    agent {
        kubernetes {
            label 'declarative'
            containerTemplate {
                name 'maven'
                image 'maven:3.3.9-jdk-8-alpine'
                ttyEnabled true
                command 'cat'
            }
            podRetention onFailure()
        }
    }
    stages {
        stage('Run maven') {
            agent {
                kubernetes {
                    containerTemplate(name: 'ignored', image: 'busybox')
                    containerTemplates([containerTemplate(name: 'kept', image: 'busybox', command: 'cat', ttyEnabled: true)])
                }
            }
            steps {
                container(name: 'kept', shell: '/bin/sh') { sh 'echo hi' }
            }
        }
    }
}
