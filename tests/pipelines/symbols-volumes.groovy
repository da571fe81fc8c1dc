// Every pod volume symbol (reference §1.6, §4.2)
podTemplate(label: 'volumes', volumes: [
    configMapVolume(configMapName: 'settings', mountPath: '/etc/settings', subPath: 'app.conf', optional: true),
    emptyDirVolume(mountPath: '/scratch', memory: false),
    hostPathVolume(hostPath: '/var/run/docker.sock', mountPath: '/var/run/docker.sock', readOnly: true),
    nfsVolume(serverAddress: '10.0.0.5', serverPath: '/exports/cache', mountPath: '/cache', readOnly: false),
    persistentVolumeClaim(claimName: 'maven-repo', mountPath: '/root/.m2', readOnly: false),
    secretVolume(secretName: 'ssh-keys', mountPath: '/root/.ssh', defaultMode: '256', optional: false),
    genericEphemeralVolume(mountPath: '/build', accessModes: 'ReadWriteOnce', storageClassName: 'fast', requestsSize: '5Gi'),
    dynamicPVC(mountPath: '/data', accessModes: 'ReadWriteMany', storageClassName: 'nfs', requestsSize: '2Gi'),
]) {
    node('volumes') {
        sh 'df -h'
    }
}
