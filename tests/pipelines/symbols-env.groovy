// Environment variable symbols (reference §1.5, §4.2), at pod and container level
podTemplate(label: 'env',
    envVars: [
        envVar(key: 'PLAIN', value: 'value'),
        secretEnvVar(key: 'TOKEN', secretName: 'tokens', secretKey: 'ci'),
        secretEnvVar(key: 'MAYBE', secretName: 'tokens', secretKey: 'opt', optional: true),
        containerEnvVar(key: 'LEGACY_CONTAINER', value: 'c'),
        podEnvVar(key: 'LEGACY_POD', value: 'p'),
        envVar(key: 'DOLLARS', value: '$string$with$dollars'),
    ],
    containers: [
        containerTemplate(name: 'app', image: 'alpine', command: 'cat', ttyEnabled: true,
            envVars: [
                envVar(key: 'PLAIN', value: 'container wins'),
                secretEnvVar(key: 'DB_PASSWORD', secretName: 'db', secretKey: 'password', optional: false),
            ]),
    ]) {
    node('env') {
        sh 'env'
    }
}
