// An agent with no option: `kubernetes true` (what the snippet generator
// writes) and an empty block; both get generated labels
pipeline {
    agent none
    stages {
        stage('one') {
            agent { kubernetes true }
            steps { sh 'true' }
        }
        stage('two') {
            agent { kubernetes { } }
            steps { sh 'true' }
        }
        stage('three') {
            agent { label 'not-kubernetes' }
            steps { sh 'true' }
        }
    }
}
