// runIn2Pods: two templates one after the other; the second does not inherit
podTemplate(label: 'first', containers: [containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: 'cat')]) {
    node('first') { container('busybox') { sh 'echo one' } }
}
podTemplate(label: 'second', containers: [containerTemplate(name: 'busybox2', image: 'busybox', ttyEnabled: true, command: 'cat')]) {
    node('second') { container('busybox2') { sh 'echo two' } }
}
