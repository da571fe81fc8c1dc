"""Jenkins label expressions: parsing, evaluation and canonical printing.

Follows ``hudson/model/labels/LabelExpression{Lexer,Parser}.g4`` and
``LabelExpression.java`` (reference jenkins-rest.md §3.2):

* operators, loosest last: ``!``, ``&&``, ``||``, ``->`` (not chainable),
  ``<->``; parentheses; both sides of a binary operator are always evaluated;
* an atom is a run of characters other than ``& | ! < > ( ) space tab " '``,
  where ``-`` is allowed unless ``>`` follows; or a double-quoted string with
  backslash escapes;
* the canonical text (what ``why`` shows) has no spaces, keeps the user's
  parentheses (``Paren`` nodes) and adds only those precedence needs; atoms
  are quoted only when ``LabelAtom.needsEscape`` says so.  A lone atom's name
  is its raw text (``Label.getName()``).

``parse(text)`` raises ``LabelSyntaxError``; ``node_labels(label_string)``
splits a node's label string like ``Label.parse`` (whitespace, quotes).
"""

ATOM, NOT, AND, OR, IMPLIES, IFF, PAREN = range(7)  # precedence ranks (LabelOperatorPrecedence order)
OP_TEXT = {NOT: "!", AND: "&&", OR: "||", IMPLIES: "->", IFF: "<->"}
_NOT_ATOM = set("&|!<>() \t\"'")
UNSAFE_NAME_CHARS = "?*/\\%!@#$^&|<>[]:;"


class LabelSyntaxError(ValueError):
    pass


class Label:
    """A node of the expression tree.  ``kind`` is ATOM, NOT, PAREN or a binary
    operator; ``name`` is the atom's raw name; ``args`` the operands."""

    __slots__ = ("kind", "name", "args")

    def __init__(self, kind, name=None, args=()):
        self.kind = kind
        self.name = name
        self.args = tuple(args)

    def precedence(self):
        return ATOM if self.kind in (ATOM, PAREN) else self.kind

    def matches(self, atoms):
        """True when the expression holds for a node whose label set is ``atoms``."""
        k = self.kind
        if k == ATOM:
            return self.name in atoms
        if k == PAREN:
            return self.args[0].matches(atoms)
        if k == NOT:
            return not self.args[0].matches(atoms)
        a, b = self.args[0].matches(atoms), self.args[1].matches(atoms)
        if k == AND:
            return a and b
        if k == OR:
            return a or b
        if k == IMPLIES:
            return (not a) or b
        return a == b

    def expression(self):
        """The canonical text (``Label.getExpression()``)."""
        k = self.kind
        if k == ATOM:
            return escape(self.name)
        if k == PAREN:
            return "(" + self.args[0].expression() + ")"
        if k == NOT:
            return "!" + _paren(NOT, self.args[0])
        return _paren(k, self.args[0]) + OP_TEXT[k] + _paren(k, self.args[1])

    def display(self):
        """``Label.getName()``: the raw name of an atom, else the expression."""
        return self.name if self.kind == ATOM else self.expression()

    def atoms(self):
        if self.kind == ATOM:
            return {self.name}
        out = set()
        for a in self.args:
            out |= a.atoms()
        return out


def _paren(op, child):
    if op < child.precedence():
        return "(" + child.expression() + ")"
    return child.expression()


def check_good_name(name):
    """``Jenkins.checkGoodName``: None when fine, else the Failure text."""
    if not name:
        return "No name is specified"
    if name.strip() in (".", ".."):
        return "\u201c%s\u201d is not an allowed name" % name.strip()
    for ch in name:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            return "No control code is allowed: %s" % "".join(
                c if ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F else "?" for c in name)
        if ch in UNSAFE_NAME_CHARS:
            return "\u2018%s\u2019 is an unsafe character" % ch
    if name.strip().endswith("."):
        return "A name cannot end with \u2018.\u2019"
    return None


def needs_escape(name):
    return check_good_name(name) is not None or any(c in " ()\t\n" for c in name)


_QUOTE_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "\b": "\\b"}
_UNQUOTE_ESC = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def quote(name):
    return '"' + "".join(_QUOTE_ESC.get(c, c) for c in name) + '"'


def escape(name):
    return quote(name) if needs_escape(name) else name


def _tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        two, three = text[i:i + 2], text[i:i + 3]
        if three == "<->":
            yield IFF, None
            i += 3
        elif two == "&&":
            yield AND, None
            i += 2
        elif two == "||":
            yield OR, None
            i += 2
        elif two == "->":
            yield IMPLIES, None
            i += 2
        elif c == "!":
            yield NOT, None
            i += 1
        elif c in "()":
            yield c, None
            i += 1
        elif c == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] in "\r\n":
                    raise LabelSyntaxError("line break in a quoted label at %d" % j)
                if text[j] == "\\":
                    if j + 1 >= n or text[j + 1] not in _UNQUOTE_ESC:
                        raise LabelSyntaxError("bad escape in a quoted label at %d" % j)
                    out.append(_UNQUOTE_ESC[text[j + 1]])
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            if j >= n:
                raise LabelSyntaxError("unterminated quoted label at %d" % i)
            yield ATOM, "".join(out)
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in _NOT_ATOM and not (text[j] == "-" and text[j + 1:j + 2] == ">"):
                j += 1
            if j == i:
                raise LabelSyntaxError("unexpected %r at %d" % (c, i))
            yield ATOM, text[i:j]
            i = j


class _Parser:
    def __init__(self, text):
        self.toks = list(_tokens(text))
        self.pos = 0

    def peek(self):
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def take(self):
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def term1(self):  # <->, chainable
        left = self.term2()
        while self.peek() == IFF:
            self.take()
            left = Label(IFF, args=(left, self.term2()))
        return left

    def term2(self):  # ->, not chainable
        left = self.term3()
        if self.peek() == IMPLIES:
            self.take()
            left = Label(IMPLIES, args=(left, self.term3()))
        return left

    def term3(self):
        left = self.term4()
        while self.peek() == OR:
            self.take()
            left = Label(OR, args=(left, self.term4()))
        return left

    def term4(self):
        left = self.term5()
        while self.peek() == AND:
            self.take()
            left = Label(AND, args=(left, self.term5()))
        return left

    def term5(self):
        if self.peek() == NOT:
            self.take()
            return Label(NOT, args=(self.term6(),))
        return self.term6()

    def term6(self):
        kind = self.peek()
        if kind == "(":
            self.take()
            inner = self.term1()
            if self.peek() != ")":
                raise LabelSyntaxError("missing ')'")
            self.take()
            return Label(PAREN, args=(inner,))
        if kind == ATOM:
            return Label(ATOM, name=self.take()[1])
        raise LabelSyntaxError("expected a label at token %d" % self.pos)


def parse(text):
    """Parse a label expression; raises LabelSyntaxError."""
    p = _Parser(text)
    if not p.toks:
        raise LabelSyntaxError("empty label expression")
    label = p.term1()
    if p.pos != len(p.toks):
        raise LabelSyntaxError("unexpected token %d" % p.pos)
    return label


def node_labels(label_string):
    """The atoms of a node's label string (whitespace separated, quotes allowed)."""
    out, cur, i, have = [], [], 0, False
    s = label_string or ""
    while i < len(s):
        c = s[i]
        if c in " \t\r\n":
            if have:
                out.append("".join(cur))
            cur, have = [], False
        elif c in "\"'":
            j = i + 1
            have = True
            while j < len(s) and s[j] != c:
                if s[j] == "\\" and j + 1 < len(s):
                    cur.append(_UNQUOTE_ESC.get(s[j + 1], s[j + 1]))
                    j += 2
                    continue
                cur.append(s[j])
                j += 1
            i = j
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        out.append("".join(cur))
    return out
