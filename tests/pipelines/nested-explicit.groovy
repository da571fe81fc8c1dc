// inheritFrom: '' stops the implicit inheritance (runInPodNestedExplicitInherit);
// any other inheritFrom replaces it; namespaces still pass down
podTemplate(namespace: 'outer-ns', containers: [containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: 'cat')]) {
    podTemplate(inheritFrom: '', containers: [containerTemplate(name: 'golang', image: 'golang:1.6.3-alpine', ttyEnabled: true, command: 'cat')]) {
        node(POD_LABEL) {
            container('golang') { sh 'go version' }
        }
    }
    podTemplate(inheritFrom: 'standard', namespace: 'inner-ns') {
        node(POD_LABEL) { sh 'true' }
    }
    podTemplate(label: 'deep') {
        podTemplate(label: 'deeper') {
            node('deeper') { sh 'true' }
        }
    }
}
