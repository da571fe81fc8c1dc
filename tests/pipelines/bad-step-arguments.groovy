// Mistakes in podTemplate arguments, each reported where it is
podTemplate('positional') { }
podTemplate(label: 'no-body')
podTemplate(label: 'has space') { }
podTemplate(label: 'x', lable: 'typo', containers: containerTemplate(name: 'a', image: 'b')) { }
podTemplate(label: 'y', envVars: [envVar(key: 'A', value: 'b'), 'C=d'], instanceCap: 'many') { }
podTemplate(label: 'z', podRetention: sometimes(), yamlMergeStrategy: 'merge', hostNetwork: 'yes') { }
podTemplate(label: 'v', volumes: [hostPathVolume(mountPath: '/x'), magicVolume(path: '/y')],
            workspaceVolume: emptyDirVolume(mountPath: '/w')) { }
podTemplate(label: 'w', containers: [containerTemplate('positional', 'image')],
            annotations: [podLabel(key: 'k', value: 'v')]) { }
podTemplate(label: 'twice', label: 'counted') { }
