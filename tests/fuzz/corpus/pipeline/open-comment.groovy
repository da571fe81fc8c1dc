/* never closed
podTemplate {