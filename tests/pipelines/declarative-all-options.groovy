// Every option of the declarative kubernetes agent (reference §4.5)
pipeline {
    agent {
        kubernetes {
            cloud 'kubernetes'
            label 'decl-all'
            namespace 'ci'
            inheritFrom 'base'
            yaml '''
spec:
  containers:
  - name: tools
    image: alpine
'''
            yamlMergeStrategy merge()
            inheritYamlMergeStrategy true
            showRawYaml false
            workspaceVolume dynamicPVC(accessModes: 'ReadWriteOnce', requestsSize: "1Gi")
            defaultContainer 'tools'
            customWorkspace 'some/dir'
            containerTemplates([containerTemplate(name: 'jnlp', image: 'jenkins/inbound-agent:latest')])
            idleMinutes 5
            activeDeadlineSeconds 600
            slaveConnectTimeout 120
            instanceCap 3
            podRetention never()
            serviceAccount 'ci-bot'
            nodeSelector 'pool=ci'
            workingDir '/home/jenkins/agent'
            supplementalGroups '2000'
            agentContainer 'jnlp'
            agentInjection true
            schedulerName 'not-passed-on'
            retries 2
        }
    }
    stages {
        stage('all') {
            steps { sh 'true' }
        }
    }
}
