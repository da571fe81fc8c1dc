podTemplate(label: 'anotherpod', inheritFrom: 'mypod' containers: [
  containerTemplate(name: 'maven', image: 'maven:3.3.9-jdk-7-alpine')
]) {
}
