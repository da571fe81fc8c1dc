"""Stapler's JSON export: ``@Exported`` beans written with ``tree=`` or ``depth=``.

Follows ``org.kohsuke.stapler.export`` (reference jenkins-rest.md §2.3, §2.7):

* a bean is an ``Obj``: its Java class name and its exported properties, each
  with a visibility (default 1), an ``inline`` flag and a ``poly`` flag (the
  declared type differs from the actual one, so nested values carry
  ``_class``); properties are written in name order, ``_class`` first;
* ``depth=N`` is ``TreePruner.ByDepth(1 - N)``: a property is written when its
  visibility is at least the level, and each non-inline property goes one
  level deeper (so a nested bean at depth 0 shows only visibility >= 2);
* ``tree=`` is ``NamedPathPruner``: ``a,b[c,d]``, ``*`` for any name, and
  ranges ``{M,N}``, ``{M,}``, ``{,N}``, ``{N}`` after a name; named
  properties are written whatever their visibility; unknown names are simply
  absent; a syntax error is ``TreeSyntaxError`` (Jenkins answers 500).

A property value may be a callable, evaluated only when the property is
written (costly values stay unevaluated when pruned, as in Jenkins).
"""


class TreeSyntaxError(ValueError):
    pass


class Prop:
    __slots__ = ("name", "value", "visibility", "inline", "poly")

    def __init__(self, name, value, visibility=1, inline=False, poly=False):
        self.name = name
        self.value = value
        self.visibility = visibility
        self.inline = inline
        self.poly = poly


class Obj:
    """An exported bean instance."""

    __slots__ = ("cls", "props")

    def __init__(self, cls, props):
        self.cls = cls
        self.props = sorted(props, key=lambda p: p.name)


class _Range:
    __slots__ = ("lo", "hi")

    def __init__(self, lo=0, hi=None):
        self.lo = lo
        self.hi = hi

    def apply(self, seq):
        return list(seq)[self.lo:self.hi]


ALL = _Range()


class ByDepth:
    __slots__ = ("n",)
    range = ALL

    def __init__(self, n):
        self.n = n

    def accept(self, prop):
        if prop.visibility < self.n:
            return None
        return self if prop.inline else ByDepth(self.n + 1)


class _Tree:
    __slots__ = ("children", "range")

    def __init__(self):
        self.children = {}
        self.range = ALL


class Named:
    __slots__ = ("tree",)

    def __init__(self, tree):
        self.tree = tree

    @property
    def range(self):
        return self.tree.range

    def accept(self, prop):
        sub = self.tree.children.get(prop.name) or self.tree.children.get("*")
        return Named(sub) if sub is not None else None


def parse_tree(spec):
    """Parse a ``tree=`` value into a pruner; raises TreeSyntaxError."""
    toks = []
    i = 0
    while i < len(spec):
        c = spec[i]
        if c in ",[]{}":
            toks.append(c)
            i += 1
        else:
            j = i
            while j < len(spec) and spec[j] not in ",[]{}":
                j += 1
            toks.append(("name", spec[i:j]))
            i = j
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def expect(tok):
        if peek() != tok:
            raise TreeSyntaxError("expected %s at token %d" % (tok, pos[0]))
        pos[0] += 1

    def number():
        t = peek()
        if not isinstance(t, tuple) or not t[1].isdigit():
            raise TreeSyntaxError("expected number at token %d" % pos[0])
        pos[0] += 1
        return int(t[1])

    def node(tree):
        t = peek()
        if not isinstance(t, tuple):
            raise TreeSyntaxError("expected name at token %d" % pos[0])
        pos[0] += 1
        sub = _Tree()
        tree.children[t[1]] = sub
        if peek() == "[":
            pos[0] += 1
            lst(sub)
            expect("]")
        if peek() == "{":
            pos[0] += 1
            if peek() == ",":
                pos[0] += 1
                sub.range = _Range(0, number())
            else:
                lo = number()
                if peek() == "}":
                    sub.range = _Range(lo, lo + 1)
                else:
                    expect(",")
                    sub.range = _Range(lo, None) if peek() == "}" else _Range(lo, number())
            expect("}")

    def lst(tree):
        node(tree)
        while peek() == ",":
            pos[0] += 1
            node(tree)

    root = _Tree()
    lst(root)
    if peek() is not None:
        raise TreeSyntaxError("unexpected token %d" % pos[0])
    return Named(root)


def pruner_for(tree=None, depth=0):
    return parse_tree(tree) if tree is not None else ByDepth(1 - depth)


def _value(v):
    return v() if callable(v) else v


def _write_obj(obj, pruner, with_class):
    out = {"_class": obj.cls} if with_class else {}
    for prop in obj.props:
        child = pruner.accept(prop)
        if child is None:
            continue
        out[prop.name] = _write(_value(prop.value), child, prop.poly)
    return out


def _write(v, pruner, poly):
    if isinstance(v, Obj):
        return _write_obj(v, pruner, poly)
    if isinstance(v, (list, tuple)):
        return [_write(_value(x), pruner, poly) for x in pruner.range.apply(v)]
    if isinstance(v, dict):
        return {k: _write(_value(x), pruner, poly) for k, x in v.items()}
    return v


def export(obj, pruner):
    """The JSON tree of a root bean (``_class`` always written at the root)."""
    return _write_obj(obj, pruner, True)
