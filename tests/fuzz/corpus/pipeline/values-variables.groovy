// Values known before the build: variables assigned from literals, GStrings
// of them, concatenation, stripIndent; everything else is kept as text with
// a warning
def registry = 'registry.example.com'
def version = "3.9"
def image = "${registry}/maven:${version}-eclipse-temurin-17"
String podYaml = '''
    spec:
      securityContext:
        runAsUser: 1000
    '''.stripIndent()
def commonEnv = [envVar(key: 'MAVEN_OPTS', value: '-Xmx1g')]

podTemplate(label: 'maven-' + version,
            containers: [containerTemplate(name: 'maven', image: image, command: 'cat', ttyEnabled: true,
                                           envVars: commonEnv,
                                           resourceLimitMemory: "${env.MEM_LIMIT}")],
            yaml: podYaml,
            annotations: [podAnnotation(key: 'build', value: "${env.BUILD_TAG}"),
                          podAnnotation(key: 'literal', value: 'xxx${HOME}xxx')]) {
    node('maven-' + version) {
        container('maven') { sh 'mvn -v' }
    }
}

// a variable changed in a branch is not known afterwards
def cloudName = 'kubernetes'
if (params.OTHER_CLOUD) {
    cloudName = 'other'
}
podTemplate(cloud: cloudName, label: 'branchy') {
    node('branchy') { sh 'true' }
}

// arguments given as a map
def args = [label: 'from-map', containers: [containerTemplate(name: 'x', image: 'alpine')]]
podTemplate(args) {
    node('from-map') { sh 'true' }
}

// library style
steps.podTemplate(label: 'via-steps') {
    node('via-steps') { sh 'true' }
}
