// README: an exec liveness probe on a container
podTemplate(label: 'probed', containers: [
    containerTemplate(name: 'busybox', image: 'busybox', ttyEnabled: true, command: 'cat', livenessProbe: containerLivenessProbe( execArgs: 'some --command', initialDelaySeconds: 30, timeoutSeconds: 1, failureThreshold: 3, periodSeconds: 10, successThreshold: 1))
]) {
    node('probed') {
        container('busybox') {
            sh 'uptime'
        }
    }
}
