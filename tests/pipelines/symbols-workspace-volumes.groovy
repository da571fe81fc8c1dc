// Every workspace volume symbol (reference §1.7, §4.2); a single unnamed
// argument fills the type's only required key
podTemplate(label: 'ws-emptyDirWorkspaceVolume', workspaceVolume: emptyDirWorkspaceVolume(memory: true, sizeLimit: '1Gi')) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-hostPathWorkspaceVolume', workspaceVolume: hostPathWorkspaceVolume(hostPath: '/tmp/ws')) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-hostPathWorkspaceVolume', workspaceVolume: hostPathWorkspaceVolume('/tmp/positional')) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-nfsWorkspaceVolume', workspaceVolume: nfsWorkspaceVolume(serverAddress: 'nfs.local', serverPath: '/ws', readOnly: false)) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-persistentVolumeClaimWorkspaceVolume', workspaceVolume: persistentVolumeClaimWorkspaceVolume(claimName: 'ws-claim', readOnly: false)) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-genericEphemeralVolume', workspaceVolume: genericEphemeralVolume(accessModes: 'ReadWriteOnce', requestsSize: '10Gi', storageClassName: 'standard')) {
    node { sh 'pwd' }
}
podTemplate(label: 'ws-dynamicPVC', workspaceVolume: dynamicPVC(accessModes: 'ReadWriteOnce', requestsSize: '1Gi')) {
    node { sh 'pwd' }
}
