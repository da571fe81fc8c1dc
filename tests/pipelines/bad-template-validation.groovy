// Problems found by the template's own validation, located in this file:
// a broken YAML fragment and a volume missing a required key
podTemplate(label: 'broken-yaml', yaml: '''
spec:
  containers: [{name: a, image: [}]
''') { }
podTemplate(label: 'broken-volume', volumes: [nfsVolume(mountPath: '/m', serverPath: '/x')],
            containers: [containerTemplate(name: 'c', image: 'has space')]) { }
