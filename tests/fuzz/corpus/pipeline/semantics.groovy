def v = 'x'; def m = [label: "l-$v", containers: [containerTemplate(name: 'a', image: "i:${env.T}")]]
podTemplate(m) { podTemplate(inheritFrom: '', volumes: [hostPathVolume('/x'), emptyDirVolume(mountPath: '/y')],
  workspaceVolume: dynamicPVC(), podRetention: never(), yamlMergeStrategy: merge(), yaml: '''
    spec: {containers: [{name: Bad_, image: b}]}
  '''.stripIndent(), envVars: [envVar(key: 'k', value: 1 + v), secretEnvVar(key: 's')], instanceCap: -1) { } }
if (x) { v = 'y' } ; steps.podTemplate(label: v, annotations: [podAnnotation(key: 'a', value: "${v}")]) { }
pipeline { agent { kubernetes { yamlFile 'p.yaml'; containerTemplate { name 'c'; image 'd' }; retries 2 } }
  stages { stage('s') { agent { kubernetes true }; steps { script { podTemplate { } } } } } }
