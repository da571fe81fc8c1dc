// declarativeWithNestedExplicitInheritance: a stage agent does not inherit
// the pipeline's (only its namespace passes down); podTemplate steps inside a
// stage run in that stage's pod template
pipeline {
    agent {
        kubernetes {
            namespace 'pipeline-ns'
            yaml '''
spec:
  containers:
  - name: golang
    image: golang:1.16.5
    command: [sleep]
    args: [99d]
'''
        }
    }
    stages {
        stage('Build') {
            agent {
                kubernetes {
                    yaml '''
                    spec:
                      containers:
                      - name: maven
                        image: maven:3.8.1-jdk-8
                        command: [sleep]
                        args: [99d]
                    '''.stripIndent()
                    defaultContainer 'maven'
                }
            }
            steps {
                sh 'mvn -version'
                script {
                    podTemplate(containers: [containerTemplate(name: 'extra', image: 'alpine', command: 'cat', ttyEnabled: true)]) {
                        node(POD_LABEL) { sh 'true' }
                    }
                }
            }
        }
        stage('Parallel') {
            parallel {
                stage('a') {
                    agent { kubernetes { inheritFrom 'base'; namespace 'a-ns' } }
                    steps { sh 'true' }
                }
                stage('b') {
                    agent any
                    steps { sh 'true' }
                }
            }
        }
        stage('Matrix') {
            matrix {
                axes { axis { name 'OS'; values 'linux', 'windows' } }
                stages {
                    stage('m') {
                        agent { kubernetes { yaml 'spec: {nodeSelector: {os: linux}}' } }
                        steps { sh 'true' }
                    }
                }
            }
        }
    }
}
