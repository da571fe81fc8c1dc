// Defaults the step drops: instanceCap <= 0 is unlimited, 0 deadlines and
// idle minutes are unset, an empty yaml is none, the label is generated
podTemplate(instanceCap: 0, idleMinutes: 0, activeDeadlineSeconds: 0, slaveConnectTimeout: 0, yaml: '') {
    node(POD_LABEL) {
        sh 'true'
    }
}
podTemplate(label: '', instanceCap: -1) {
    node(POD_LABEL) {
        sh 'true'
    }
}
