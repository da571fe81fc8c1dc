// Nested podTemplates inherit from the enclosing one (runInPodNested):
// the inner pod has both containers
podTemplate(containers: [containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: 'cat')]) {
    podTemplate(containers: [containerTemplate(name: 'golang', image: 'golang:1.6.3-alpine', ttyEnabled: true, command: 'cat')]) {
        node(POD_LABEL) {
            container('busybox') { sh 'echo hello from busybox' }
            container('golang') { sh 'go version' }
        }
    }
}
