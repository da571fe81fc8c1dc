// README: inherit the template "mypod" and override the maven image
// (the README's own text misses the comma after inheritFrom: see
// bad-readme-inherit.groovy)
podTemplate(label: 'anotherpod', inheritFrom: 'mypod', containers: [
    containerTemplate(name: 'maven', image: 'maven:3.3.9-jdk-7-alpine')
  ]) {
    //Let's not repeat ourselves and ommit this part
}
