// README, as printed: a comma is missing after inheritFrom
podTemplate(label: 'anotherpod', inheritFrom: 'mypod' containers: [
    containerTemplate(name: 'maven', image: 'maven:3.3.9-jdk-7-alpine')
  ]) {
    //Let's not repeat ourselves and ommit this part
}
