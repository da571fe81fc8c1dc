// Groovy scopes: a method sees only the script's binding variables, and only
// those no method assigns; a closure kept for later sees variables assigned once
def local = 'local-label'
binding1 = 'bound-label'
changed = 'first'

def inMethod() {
    podTemplate(label: local) { }       // not visible in a method: only known at run time
    podTemplate(label: binding1) { }    // a binding variable assigned once
    podTemplate(label: changed) { }     // assigned again below
}

def later = {
    podTemplate(label: local) { }
}

changed = 'second'
for (x in ['a', 'b']) {
    podTemplate(label: "loop-${x}") { }
}
def counter = 1
counter++
podTemplate(label: "count-${counter}") { }
