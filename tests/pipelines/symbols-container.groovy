// Every containerTemplate field, ports and the liveness probe (reference §1.4, §4.2)
podTemplate(label: 'fields', containers: [
    containerTemplate(
        name: 'db',
        image: 'postgres:16',
        alwaysPullImage: true,
        workingDir: '/var/lib/postgresql',
        command: 'docker-entrypoint.sh',
        args: 'postgres -c "log_statement=all"',
        ttyEnabled: false,
        privileged: true,
        runAsUser: '999',
        runAsGroup: '999',
        resourceRequestCpu: '250m',
        resourceRequestMemory: '256Mi',
        resourceRequestEphemeralStorage: '1Gi',
        resourceLimitCpu: '1',
        resourceLimitMemory: '1Gi',
        resourceLimitEphemeralStorage: '2Gi',
        shell: '/bin/bash',
        envVars: [envVar(key: 'POSTGRES_PASSWORD', value: 'test')],
        ports: [portMapping(name: 'pg', containerPort: 5432), portMapping(name: 'metrics', containerPort: 9187, hostPort: 19187)],
        livenessProbe: containerLivenessProbe(execArgs: 'pg_isready -U postgres', initialDelaySeconds: 5, timeoutSeconds: 2, failureThreshold: 5, periodSeconds: 10, successThreshold: 1),
    ),
]) {
    node('fields') {
        container('db') { sh 'psql --version' }
    }
}
