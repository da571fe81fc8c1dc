pipeline {
 agent { kubernetes { yaml '''
spec:
  containers: []
'''.stripIndent() } }
 stages { stage('a') { steps { sh 'x' } } }
}
