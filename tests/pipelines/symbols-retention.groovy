// Every retention symbol and both YAML merge strategies (reference §1.8, §2.8, §4.2)
podTemplate(label: 'r-always', podRetention: always()) { node('r-always') { sh 'true' } }
podTemplate(label: 'r-never', podRetention: never()) { node('r-never') { sh 'true' } }
podTemplate(label: 'r-failure', podRetention: onFailure()) { node('r-failure') { sh 'true' } }
podTemplate(label: 'r-evicted', podRetention: evicted()) { node('r-evicted') { sh 'true' } }
podTemplate(label: 'r-default', podRetention: default()) { node('r-default') { sh 'true' } }
podTemplate(label: 'y-merge', yamlMergeStrategy: merge()) { node('y-merge') { sh 'true' } }
podTemplate(label: 'y-override', yamlMergeStrategy: override()) { node('y-override') { sh 'true' } }
