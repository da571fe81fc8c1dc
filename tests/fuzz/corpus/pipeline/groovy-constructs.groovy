#!/usr/bin/env groovy
@Library('my-lib@1.0') _
import groovy.transform.Field
@Field def X = 1
String a = 'x', b
def (c, d) = [1, 2]
final e = "$a.b ${a + 1} \${x} \u00e9 \$(JENKINS_SECRET)"
def m = [a: 1, 'b': 2, (a): 3, "${a}": 4, *: other]
def l = [1, 2.5e3, 0x1F, 1_000L, -1, !true]
def f = { x, String y = 'z' -> x + y }
def g = { -> 1 }
Map<String, List<String>> gen = [:]
if (a == 'x' && b) { echo 'yes' } else if (c) echo 'no' else { echo 'none' }
for (x in [1,2]) { println x }
for (int i = 0; i < 3; i++) println i
while (false) { break }
try { sh 'x' } catch (Exception ex) { echo "${ex}" } finally { echo 'done' }
switch (a) {
  case 'x': echo 'x'; break
  case ~/y.*/: echo 'y'
  default: echo 'z'
}
def foo(String name, body = null) { podTemplate(label: name) { body() } }
public void bar(body) { body() }
class Helper implements Serializable { def x = { } ; void y() { } }
x = a ? b : c
y = a ?: 'def'
z = a.b?.c*.d.&e
w = (String) a
v = new HashMap<String, String>()
u = new String[3]
t = a instanceof String
list.each { item -> echo item }
def r = /regex\/with\d/
def q = $/dollar $$ slashy $/ $a/$
def p = '''multi
line'''.stripIndent()
n = 2 ** 3 / 4
k = a[0][1]
j++
retry(3) { sh 'x' }
timeout(time: 1, unit: 'HOURS') {
    echo 'in'
}
parallel a: { echo 'a' }, b: { echo 'b' }
def s = "a" +
   "b"
def obj = foo
   .bar()
   .baz
echo "${-> lazy}"
return this
