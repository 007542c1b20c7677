# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, auto_pickle=False
"""The compiled kernels of enrichment: the hot loops of `Enricher.rules`, and nothing else
(docs/decisions/0007-one-text-of-the-rules.md).

Five kernels, each a narrow interface with its Python reference in kernels.py, held to it by
tests/unit/test_hotpath.py: the phrase scan (`Kernels.scan`, a table-driven automaton built
from the Enricher's pyahocorasick one), the word cutter (`words`, the WORD regex as a C loop;
`Kernels.words` adds the word facts the rules ask for), the sentiment loop
(`Kernels.sentiment`), the shipped sentiment model's reading (`Weights.read`, reference `tone.Tone.read`),
and the PII gate (`Kernels.pii`: `may_have_pii`, then `find_pii` with
the same regexes and the glue between them in C). `Kernels.read` runs them all on one post,
with one pass over its words for both the facts and the sentiment. No decision is made here: situations, author classes, severity, language and
urgency are decided in enrich.py, once, from what these return. Constants and tables are read
from kernels.py and pii.py, at import and when a Kernels is built.

What compiling buys is not the lookups themselves (dicts and regexes are C already) but the
Python between them: one C loop cuts the words, one pass over the words finds the sentiment
words, the first "but" and the modifiers, one over the characters every "is there a '!'", the
automaton finds the phrases without a tuple per match.
"""

from libc.math cimport sqrt, copysign, exp
from libc.stdlib cimport calloc, free
from cpython.unicode cimport (PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND,
                              PyUnicode_READ, PyUnicode_READ_CHAR, PyUnicode_Substring)
from cpython.dict cimport PyDict_GetItem
from libc.stdint cimport uint64_t
from cpython.object cimport PyObject
from cpython.mem cimport PyMem_Malloc, PyMem_Free

from escapevelocity.domain import kernels as _py
from escapevelocity.domain import pii as _pii

# The SHA-256 of this file when it was built (setup.py): enrich.py refuses an extension whose
# source has changed since, and the tests fail on it.
SOURCE_SHA256 = BUILT_FROM_SHA256

cdef double NEGATION_ALONE = _py.NEGATION_ALONE
cdef double MIXED_POSITIVE_SCALE = _py.MIXED_POSITIVE_SCALE
cdef double NEGATIVE_WEIGHT = _py.NEGATIVE_WEIGHT
cdef double QUESTION_POSITIVE_SCALE = _py.QUESTION_POSITIVE_SCALE
cdef double EXCLAIM_ALONE = _py.EXCLAIM_ALONE
cdef double NAME_SCALE = _py.NAME_SCALE
cdef dict MODIFIERS = _py.MODIFIERS
cdef dict BOOSTERS = _py.BOOSTERS
cdef frozenset NOT_NEGATING = _py.NOT_NEGATING
cdef object CAPS_FINDALL = _py._CAPS.findall
cdef object STRENGTH = _py._STRENGTH
cdef object SCAN = _py.Scan
cdef object WORDS = _py.Words
cdef object READING = _py.Reading
cdef Py_ssize_t MAX_TEXT = _py.MAX_TEXT
cdef object URL_SUB = _py.URL.sub
cdef object IS_NORMALIZED = _py.unicodedata.is_normalized
cdef object FOLD_TABLE = _py.FOLD_TABLE
cdef object UNSTRETCH = _py.unstretch
cdef object SENTENCE_OF = _py.Kernels.sentence_of
# The word sets kernels.Words answers for, one bit each.
cdef int F_ENGLISH = 1, F_SECOND = 2, F_JUDGEMENT = 4, F_FAILURE = 8, F_EVALUATIVE = 16
cdef int F_SETS = 31
# and what a word does to the next one (kernels.MODIFIERS, kernels.BOOSTERS)
cdef int F_MODIFIER = 32, F_BOOSTER = 64
# kernels.Entry's fields, by position (an Entry is a tuple)
cdef enum:
    VALENCE = 0
    NEGATABLE = 4
    NEGATION_ALONE_FIELD = 6


def _span_order(span):
    return (span[0], -span[1])
cdef object ENDS_HANDLE = _py._ENDS_HANDLE
cdef object ENDS_TITLE = _py._ENDS_TITLE
cdef object CARD_ITER = _pii._CARD.finditer
cdef object ACCOUNT_ITER = _pii._ACCOUNT.finditer
cdef object ACCOUNT_HINT = _pii._ACCOUNT_HINT
cdef object PHONE_ITER = _pii._PHONE.finditer
cdef object ADDRESS_ITER = _pii._ADDRESS.finditer
cdef object EMAIL_DOMAIN_ITER = _pii._EMAIL_DOMAIN.finditer
cdef object NOT_DIGIT_SUB = _pii.re.compile(r"\D").sub
cdef object luhn = _pii._luhn


cdef inline bint alnum(Py_UCS4 c) noexcept:
    """str.isalnum of one character, ASCII without the Unicode tables' function call."""
    if c < 128:
        return (u'a' <= c <= u'z') or (u'A' <= c <= u'Z') or (u'0' <= c <= u'9')
    return c.isalnum()


cdef inline bint decimal(Py_UCS4 c) noexcept:
    """str.isdecimal of one character (what \\d matches), ASCII first."""
    if c < 128:
        return u'0' <= c <= u'9'
    return c.isdecimal()


cdef inline bint is_word(Py_UCS4 c) noexcept:
    """What the regex \\w matches in a str pattern."""
    return c == u'_' or alnum(c)


cdef bint whole_word(str word, str text):
    """enrich._whole_word: `word` (letters) in `text` with no word character either side."""
    cdef Py_ssize_t size = PyUnicode_GET_LENGTH(word), length = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t start = text.find(word), end
    while start >= 0:
        end = start + size
        if (start == 0 or not is_word(PyUnicode_READ_CHAR(text, start - 1))) and \
                (end == length or not is_word(PyUnicode_READ_CHAR(text, end))):
            return True
        start = text.find(word, end)
    return False


cdef bint in_name(str title, str text):
    """enrich._in_name: is the Capitalised word `title` written next to another Capitalised
    word (part of a name or a title, not an opinion)?"""
    cdef Py_ssize_t size = PyUnicode_GET_LENGTH(title), length = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t start = text.find(title), end
    cdef str before, after
    cdef Py_UCS4 last
    while start >= 0:
        end = start + size
        if (start == 0 or not is_word(PyUnicode_READ_CHAR(text, start - 1))) and \
                (end == length or not is_word(PyUnicode_READ_CHAR(text, end))):
            before = text[start - 64 if start > 64 else 0:start].rstrip()
            if not before and start > 64:
                before = text[:start].rstrip()
            after = text[end:].lstrip()
            if PyUnicode_GET_LENGTH(after) >= 2 and PyUnicode_READ_CHAR(after, 0).isupper() \
                    and PyUnicode_READ_CHAR(after, 1).islower():
                return True
            if before:
                last = PyUnicode_READ_CHAR(before, PyUnicode_GET_LENGTH(before) - 1)
                if not (last in u".!?:\"\n" or ENDS_HANDLE(before) is not None) and \
                        ENDS_TITLE(before) is not None:
                    return True
        start = text.find(title, end)
    return False


cpdef tuple find_pii(str text):
    """pii.find_pii: the kinds of PII in `text`, in the order of their spans (the same
    regexes, the glue between them in C)."""
    cdef list spans = []
    cdef Py_ssize_t at, start, bound, i, n, digits
    cdef Py_UCS4 c
    if email_hint(text):
        bound = 0
        for m in EMAIL_DOMAIN_ITER(text):
            at = start = m.start()
            while start > bound:
                c = PyUnicode_READ_CHAR(text, start - 1)
                if c == u'.' or c == u'_' or c == u'+' or c == u'-' or alnum(c):
                    start -= 1
                else:
                    break
            if start < at:
                spans.append((start, m.end(), u"email"))
                bound = m.end()
    n = PyUnicode_GET_LENGTH(text)
    for i in range(n):
        if decimal(PyUnicode_READ_CHAR(text, i)):
            break
    else:
        return kinds(spans)
    if address_hint(text):
        for m in ADDRESS_ITER(text):
            spans.append((m.start(), m.end(), u"address"))
    digits = 0
    for i in range(n):
        if decimal(PyUnicode_READ_CHAR(text, i)):
            digits += 1
    if digits >= 6 and digit_run(text):
        # a card has 13 digits or more, a phone 9 or more: fewer in the post, no regex
        for m in (CARD_ITER(text) if digits >= 13 else ()):
            found = NOT_DIGIT_SUB(u"", m.group())
            if 13 <= len(found) <= 19 and luhn(found):
                spans.append((m.start(), m.end(), u"card_number"))
        if ACCOUNT_HINT(text) is not None:
            for m in ACCOUNT_ITER(text):
                if count_digits(m.group(1)) >= 6:
                    spans.append((m.start(1), m.end(1), u"account_number"))
        for m in (PHONE_ITER(text) if digits >= 9 else ()):
            if count_digits(m.group()) >= 9:
                spans.append((m.start(), m.end(), u"phone"))
    return kinds(kept(spans))


cdef tuple kinds(list spans):
    """The kinds of the spans, each once, first seen first (tuple(dict.fromkeys(...)))."""
    cdef list out = []
    for span in spans:
        kind = (<tuple>span)[2]
        if kind not in out:
            out.append(kind)
    return tuple(out)


cdef Py_ssize_t count_digits(str s) noexcept:
    cdef Py_ssize_t i, got = 0
    for i in range(PyUnicode_GET_LENGTH(s)):
        if PyUnicode_READ_CHAR(s, i).isdigit():
            got += 1
    return got


cdef bint address_hint(str text) noexcept:
    """pii._ADDRESS_HINT: a decimal digit, whitespace, an ASCII capital (\d\s+[A-Z])."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, j
    for i in range(n - 2):
        if decimal(PyUnicode_READ_CHAR(text, i)):
            j = i + 1
            while j < n and is_space(PyUnicode_READ_CHAR(text, j)):
                j += 1
            if j > i + 1 and j < n and u'A' <= PyUnicode_READ_CHAR(text, j) <= u'Z':
                return True
    return False


cdef bint digit_run(str text) noexcept:
    """pii._DIGIT_RUN: six decimal digits with at most single [\s-] separators."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, j, got
    cdef Py_UCS4 d
    for i in range(n):
        if not decimal(PyUnicode_READ_CHAR(text, i)):
            continue
        j, got = i + 1, 1
        while got < 6 and j < n:
            d = PyUnicode_READ_CHAR(text, j)
            if decimal(d):
                j += 1
                got += 1
            elif (d == u'-' or is_space(d)) and j + 1 < n and \
                    decimal(PyUnicode_READ_CHAR(text, j + 1)):
                j += 2
                got += 1
            else:
                break
        if got == 6:
            return True
    return False

cdef inline bint is_az(Py_UCS4 c) noexcept:
    return u'a' <= c <= u'z'


cdef inline bint is_emoji(Py_UCS4 c) noexcept:
    return (0x1F300 <= c <= 0x1FAFF) or (0x2600 <= c <= 0x27BF)


cdef inline bint is_mouth(Py_UCS4 c) noexcept:
    return c in u"()[]dpo/\\|*$@3"


cdef bint stretched(str plain) noexcept:
    """kernels._STRETCHED: a letter a-z three times in a row ("soooo")."""
    cdef int kind = PyUnicode_KIND(plain)
    cdef void *data = PyUnicode_DATA(plain)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(plain)
    cdef Py_UCS4 c, prev = 0
    cdef int run = 0
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c == prev and is_az(c):
            run += 1
            if run == 2:
                return True
        else:
            run = 0
        prev = c
    return False


cpdef list clause_words(str lower, bint sentence=False):
    """kernels._CLAUSE_END(lower) (with `sentence`, kernels._SENTENCE_END), as a C loop: each
    run of a-z, ' and 0-9 from its first a-z letter, when whitespace (or nothing) and then one
    of , . ; : ! ? (of . ! ?) follow it."""
    cdef int kind = PyUnicode_KIND(lower)
    cdef void *data = PyUnicode_DATA(lower)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(lower)
    cdef Py_ssize_t i = 0, start, j
    cdef Py_UCS4 c
    cdef list out = []
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if not (is_az(c) or c == u"'" or u'0' <= c <= u'9'):
            i += 1
            continue
        start = -1
        while i < n:
            c = PyUnicode_READ(kind, data, i)
            if is_az(c):
                if start < 0:
                    start = i
            elif not (c == u"'" or u'0' <= c <= u'9'):
                break
            i += 1
        if start < 0:
            continue
        j = i
        while j < n and PyUnicode_READ(kind, data, j).isspace():
            j += 1
        if j < n:
            c = PyUnicode_READ(kind, data, j)
            if c == u'.' or c == u'!' or c == u'?' or \
                    (not sentence and (c == u',' or c == u';' or c == u':')):
                out.append(PyUnicode_Substring(lower, start, i))
    return out


cpdef list words(str plain):
    """lexicons.WORD.findall(plain), as a C loop: words and hashtags, emoticons, "<3", runs of
    ! and ?, and single emoji; the same tokens in the same order (the regex's alternatives are
    tried in its order at each position, as the regex engine does)."""
    cdef int kind = PyUnicode_KIND(plain)
    cdef void *data = PyUnicode_DATA(plain)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(plain)
    cdef Py_ssize_t i = 0, j, k
    cdef Py_UCS4 c, d, prev
    cdef list out = []
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if is_az(c) or (c == u'#' and i + 1 < n and is_az(PyUnicode_READ(kind, data, i + 1))):
            j = i + 1 if c != u'#' else i + 2
            while j < n:
                d = PyUnicode_READ(kind, data, j)
                if is_az(d) or d == u"'" or u'0' <= d <= u'9':
                    j += 1
                else:
                    break
            out.append(PyUnicode_Substring(plain, i, j))
            i = j
            continue
        if c == u':' or c == u';' or c == u'=' or c == u'8':
            if i > 0:
                prev = PyUnicode_READ(kind, data, i - 1)
                if is_word(prev) or prev == u':' or prev == u';' or prev == u'=':
                    i += 1
                    continue
            # [-o^']? then a mouth, then no word character: with the nose first, then without
            # (the regex backtracks to the shorter form).
            k = -1
            if i + 2 < n:
                d = PyUnicode_READ(kind, data, i + 1)
                if (d == u'-' or d == u'o' or d == u'^' or d == u"'") and \
                        is_mouth(PyUnicode_READ(kind, data, i + 2)) and \
                        (i + 3 >= n or not is_word(PyUnicode_READ(kind, data, i + 3))):
                    k = i + 3
            if k < 0 and i + 1 < n and is_mouth(PyUnicode_READ(kind, data, i + 1)) and \
                    (i + 2 >= n or not is_word(PyUnicode_READ(kind, data, i + 2))):
                k = i + 2
            if k > 0:
                out.append(PyUnicode_Substring(plain, i, k))
                i = k
            else:
                i += 1
            continue
        if c == u'<':
            if i + 1 < n and PyUnicode_READ(kind, data, i + 1) == u'3':
                out.append(u"<3")
                i += 2
            else:
                i += 1
            continue
        if c == u'!' or c == u'?':
            j = i + 1
            while j < n:
                d = PyUnicode_READ(kind, data, j)
                if d == u'!' or d == u'?':
                    j += 1
                else:
                    break
            out.append(PyUnicode_Substring(plain, i, j))
            i = j
            continue
        if c >= 0x2600 and is_emoji(c):
            out.append(PyUnicode_Substring(plain, i, i + 1))
        i += 1
    return out


cdef bint email_hint(str text):
    """pii._has_email_hint: an '@' after a local-part character, then [\\w-]+ and a dot."""
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t i, j
    cdef Py_UCS4 c, b
    i = text.find(u"@", 1)
    while i >= 0:
        b = PyUnicode_READ(kind, data, i - 1)
        if b == u'.' or b == u'_' or b == u'+' or b == u'-' or alnum(b):
            j = i + 1
            while j < n:
                c = PyUnicode_READ(kind, data, j)
                if c == u'-' or is_word(c):
                    j += 1
                else:
                    break
            if j > i + 1 and j < n and PyUnicode_READ(kind, data, j) == u'.':
                return True
        i = text.find(u"@", i + 1)
    return False


cdef inline bint is_space(Py_UCS4 c) noexcept:
    return c.isspace()


cdef bint digit_hint(str text, bint ascii_text) noexcept:
    """pii.may_have's digit test: for ASCII text, six digits with at most single [\\s-]
    separators, or a digit, spaces and a capital ([0-9](?:[\\s-]?[0-9]){5}|[0-9]\\s+[A-Z]);
    otherwise any decimal digit."""
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t i, j, got
    cdef Py_UCS4 c, d
    if not ascii_text:
        for i in range(n):
            if decimal(PyUnicode_READ(kind, data, i)):
                return True
        return False
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if not (u'0' <= c <= u'9'):
            continue
        # six digits, single separators allowed between them
        j, got = i + 1, 1
        while got < 6 and j < n:
            d = PyUnicode_READ(kind, data, j)
            if u'0' <= d <= u'9':
                j += 1
                got += 1
            elif (d == u'-' or is_space(d)) and j + 1 < n and \
                    u'0' <= PyUnicode_READ(kind, data, j + 1) <= u'9':
                j += 2
                got += 1
            else:
                break
        if got == 6:
            return True
        # a digit, whitespace, a capital
        j = i + 1
        while j < n and is_space(PyUnicode_READ(kind, data, j)):
            j += 1
        if j > i + 1 and j < n and u'A' <= PyUnicode_READ(kind, data, j) <= u'Z':
            return True
    return False


cpdef bint may_have_pii(str text, bint ascii_text):
    if email_hint(text):
        return True
    return digit_hint(text, ascii_text)

cdef void strongest_first(list reasons):
    """reasons.sort(key=itemgetter(0)) for a few (-|valence|, name) pairs: an insertion sort,
    stable as list.sort is."""
    cdef Py_ssize_t a, b, n = len(reasons)
    cdef double key
    if n > 16:  # a hostile post can have thousands: list.sort, which is as stable
        reasons.sort(key=STRENGTH)
        return
    for a in range(1, n):
        item = reasons[a]
        key = (<tuple>item)[0]
        b = a - 1
        while b >= 0 and <double>((<tuple>reasons[b])[0]) > key:
            reasons[b + 1] = reasons[b]
            b -= 1
        reasons[b + 1] = item


cdef list kept(list spans):
    """pii._kept: the spans by start (longest first), and of overlapping ones the first."""
    cdef Py_ssize_t a, b, n = len(spans)
    cdef Py_ssize_t start, end, last = -1
    cdef tuple item, other
    if n < 2:
        return spans
    if n > 16:  # a hostile post can have thousands: list.sort, which is as stable
        spans.sort(key=_span_order)
        n = 0  # sorted: the insertion sort below has nothing to do
    for a in range(1, n):
        item = spans[a]
        start, end = item[0], item[1]
        b = a - 1
        while b >= 0:
            other = spans[b]
            if other[0] > start or (other[0] == start and other[1] < end):
                spans[b + 1] = other
                b -= 1
            else:
                break
        spans[b + 1] = item
    cdef list out = []
    for item in spans:
        if not out or item[0] >= last:
            out.append(item)
            last = item[1]
    return out


cdef int M_TAG = 1, M_BANG = 2, M_Q = 4, M_AT = 8, M_BANGBANG = 16, M_QPAIR = 32
cdef int M_STRETCH = 64  # a letter a-z three times in a row (kernels._STRETCHED)


cdef int char_marks(str lower) noexcept:
    """One pass for the characters the rules test for ('#', '!', '?', '@', "!!", and any of
    "?!", "!?", "??", a letter three times in a row), where each `in` would be a search of its
    own; bits 8 and up count the '!', up to 4 (all the rules read)."""
    cdef int kind = PyUnicode_KIND(lower)
    cdef void *data = PyUnicode_DATA(lower)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(lower)
    cdef Py_UCS4 c, prev = 0
    cdef int marks = 0, bangs = 0, run = 0
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c == prev and u'a' <= c <= u'z':
            run += 1
            if run == 2:
                marks |= M_STRETCH
        else:
            run = 0
        if c == u'!':
            marks |= M_BANG
            if bangs < 4:
                bangs += 1
            if prev == u'!':
                marks |= M_BANGBANG
            elif prev == u'?':
                marks |= M_QPAIR
        elif c == u'?':
            marks |= M_Q
            if prev == u'!' or prev == u'?':
                marks |= M_QPAIR
        elif c == u'#':
            marks |= M_TAG
        elif c == u'@':
            marks |= M_AT
        prev = c
    return marks | (bangs << 8)



# States fit 16 bits, and the table a byte budget (states x character classes x 2 bytes: a
# vocabulary in a script with thousands of characters would need hundreds of MB); past either,
# the automaton's own scan.
MAX_STATES = 65_535
MAX_TABLE_BYTES = 16 * 1024 * 1024


cdef class Scanner:
    """The phrases of an ahocorasick.Automaton as a table-driven automaton: one array read per
    character (transitions through failure links precomputed, characters mapped to the few
    classes the phrases use), where the automaton's iterator builds a tuple per match. Yields
    the same matches in the same order: by end position, longest first (its iterator follows
    the failure links the same way)."""

    cdef unsigned short *delta  # state * nclass + class -> next state
    cdef int *first  # the first phrase ending in this state: itself, else its link
    cdef int *out  # the state's value in `values`, or -1 when no phrase ends there
    cdef int *link  # the next state along the failure links where a phrase ends, or -1
    cdef int *lengths
    cdef char *anywhere
    cdef int nclass, nstates, nwide
    cdef int ascii_class[128]
    cdef Py_UCS4 *wide  # the phrases' characters past ASCII, sorted, and their classes
    cdef int *wide_class
    cdef readonly list values

    def __cinit__(self):
        self.delta = NULL
        self.first = self.out = self.link = self.lengths = self.wide_class = NULL
        self.anywhere = NULL
        self.wide = NULL
        self.nclass = self.nstates = self.nwide = 0

    def __init__(self, automaton):
        cdef int i, a, st, f, c
        if self.delta != NULL:
            raise ValueError("a Scanner is built once")
        items = sorted(automaton.items())
        chars = sorted({ch for key, _ in items for ch in key})
        classes = {ch: i + 1 for i, ch in enumerate(chars)}  # 0: no phrase has it
        self.nclass = len(chars) + 1
        children = [{}]  # the trie, one dict per state
        terminal = [-1]
        self.values = []
        for key, value in items:
            st = 0
            for ch in key:
                nxt = children[st].get(ch)
                if nxt is None:
                    nxt = len(children)
                    children[st][ch] = nxt
                    children.append({})
                    terminal.append(-1)
                st = nxt
            terminal[st] = len(self.values)
            self.values.append(value)
        # States numbered breadth first: the shallow states most characters lead to sit in
        # the first rows of the table, a few pages the cache keeps.
        bfs = [0]
        i = 0
        while i < len(bfs):
            bfs.extend(children[bfs[i]].values())
            i += 1
        renumber = [0] * len(children)
        for i, st in enumerate(bfs):
            renumber[st] = i
        children = [{ch: renumber[c] for ch, c in children[st].items()} for st in bfs]
        terminal = [terminal[st] for st in bfs]
        self.nstates = len(children)
        if self.nstates > MAX_STATES or \
                <size_t>self.nstates * <size_t>self.nclass * 2 > <size_t>MAX_TABLE_BYTES:
            raise ValueError("too many phrases for the compiled scan")
        self.delta = <unsigned short *>calloc(<size_t>self.nstates * <size_t>self.nclass,
                                              sizeof(unsigned short))
        self.first = <int *>calloc(self.nstates, sizeof(int))
        self.out = <int *>calloc(self.nstates, sizeof(int))
        self.link = <int *>calloc(self.nstates, sizeof(int))
        self.lengths = <int *>calloc(max(1, len(self.values)), sizeof(int))
        self.anywhere = <char *>calloc(max(1, len(self.values)), sizeof(char))
        self.nwide = sum(1 for ch in chars if ord(ch) >= 128)
        self.wide = <Py_UCS4 *>calloc(max(1, self.nwide), sizeof(Py_UCS4))
        self.wide_class = <int *>calloc(max(1, self.nwide), sizeof(int))
        if not (self.delta and self.first and self.out and self.link and self.lengths and self.anywhere
                and self.wide and self.wide_class):
            raise MemoryError()
        for i in range(128):
            self.ascii_class[i] = classes.get(chr(i), 0)
        i = 0
        for ch in chars:
            if ord(ch) >= 128:
                self.wide[i] = ord(ch)
                self.wide_class[i] = classes[ch]
                i += 1
        for i, value in enumerate(self.values):
            self.lengths[i] = value[0]
            self.anywhere[i] = 1 if value[2] else 0
        fail = [0] * self.nstates
        for st in range(self.nstates):
            self.out[st] = terminal[st]
            self.link[st] = -1
        # Breadth first: each state's transitions are its trie children, else its failure
        # state's transitions (already complete, being shallower).
        order = [0]
        for ch, child in children[0].items():
            order.append(child)
        for a in range(self.nclass):
            self.delta[a] = 0
        for ch, child in children[0].items():
            self.delta[classes[ch]] = child
        head = 1
        while head < len(order):
            st = order[head]
            head += 1
            f = fail[st]
            for a in range(self.nclass):
                self.delta[st * self.nclass + a] = self.delta[f * self.nclass + a]
            for ch, child in children[st].items():
                c = classes[ch]
                fail[child] = self.delta[f * self.nclass + c] if st else 0
                self.delta[st * self.nclass + c] = child
                order.append(child)
            self.link[st] = f if terminal[f] >= 0 else self.link[f]
        for st in range(self.nstates):
            self.first[st] = st if self.out[st] >= 0 else self.link[st]

    def __dealloc__(self):
        free(self.delta)
        free(self.first)
        free(self.out)
        free(self.link)
        free(self.lengths)
        free(self.anywhere)
        free(self.wide)
        free(self.wide_class)

    cdef inline int klass(self, Py_UCS4 c) noexcept:
        cdef int lo = 0, hi = self.nwide - 1, mid
        if c < 128:
            return self.ascii_class[c]
        while lo <= hi:
            mid = (lo + hi) >> 1
            if self.wide[mid] == c:
                return self.wide_class[mid]
            if self.wide[mid] < c:
                lo = mid + 1
            else:
                hi = mid - 1
        return 0

    def iter(self, str text):
        """(end index, value) of every match, as ahocorasick.Automaton.iter gives them."""
        cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text)
        cdef int st = 0, o
        if self.delta == NULL:
            raise ValueError("Scanner() needs an automaton")
        found = []
        for i in range(n):
            st = self.delta[st * self.nclass + self.klass(PyUnicode_READ_CHAR(text, i))]
            o = self.first[st]
            while o >= 0:
                found.append((i, self.values[self.out[o]]))
                o = self.link[o]
        return found


cdef class Known:
    """What the word pass and the sentiment loop ask of one word, found with one dict lookup
    (Kernels.lexicon): the sets it is in (F_*), whether it modifies the next word and by how
    much (kernels.MODIFIERS), whether it is a booster (kernels.BOOSTERS), and its entry in each
    sentiment table (a kernels.Entry, or None)."""

    cdef int flags
    cdef double modifier
    cdef object entry, entry_broadcast

    def __init__(self):
        self.flags = 0
        self.modifier = 1.0
        self.entry = self.entry_broadcast = None


cdef inline object entry_of(PyObject *known, bint to_someone):
    """A word's entry in the table of the post (kernels.Entry), or None: `known` is the word's
    Known, or NULL for a word in no table."""
    if known == NULL:
        return None
    return (<Known>known).entry if to_someone else (<Known>known).entry_broadcast


cdef inline bint has_entry(PyObject *known, bint to_someone) noexcept:
    """entry_of(known, to_someone) is not None, without taking a reference."""
    if known == NULL:
        return False
    return ((<Known>known).entry if to_someone else (<Known>known).entry_broadcast) is not None


cdef inline int flags_of(PyObject *known) noexcept:
    return 0 if known == NULL else (<Known>known).flags


cdef inline bint addressed(str lower) noexcept:
    """A post to someone (it starts with "@"): its words are read in the entries table, a
    post to everyone's in the broadcast one (enrich.py says why)."""
    return PyUnicode_GET_LENGTH(lower) > 0 and PyUnicode_READ_CHAR(lower, 0) == u'@'


# Posts of up to this many words keep the word pass's per-word arrays on the stack.
cdef enum:
    STACK_WORDS = 96


cdef class Kernels:
    """kernels.Kernels for one Enricher's tables (read once, at construction), compiled; the
    reference's own scan where the table would be too big, and its hashtag memo."""

    cdef object reference, hashtag
    cdef dict tags
    cdef Scanner scanner
    cdef dict entries, entries_broadcast, idioms
    cdef frozenset zero, known
    # word -> Known: every word of the sentiment tables, the modifiers and the word sets, so
    # the word pass looks a word up once.
    cdef dict lexicon
    # Two bits a word, by the low 16 bits of its hash and the next 16: a clear one says the
    # word is not in the lexicon (most words), without touching its dict.
    cdef unsigned long long bloom[1024]

    def __init__(self, reference):
        cdef Py_hash_t h
        cdef Known k
        self.reference = reference
        try:
            self.scanner = Scanner(reference.automaton)
        except (ValueError, MemoryError):  # past the limits: the automaton's own scan
            self.scanner = None
        self.hashtag = reference.hashtag
        self.tags = reference._tags
        self.entries = reference.entries
        self.entries_broadcast = reference.entries_broadcast
        self.idioms = reference.idioms
        self.zero = reference.zero
        self.known = reference.known
        self.lexicon = {}
        for key, entry in self.entries.items():
            self.known_of(key).entry = entry
        for key, entry in self.entries_broadcast.items():
            self.known_of(key).entry_broadcast = entry
        for key, m in MODIFIERS.items():
            k = self.known_of(key)
            k.flags |= F_MODIFIER
            k.modifier = m
        for key in BOOSTERS:
            k = self.known_of(key)
            k.flags |= F_BOOSTER
        for flag, group in ((F_ENGLISH, _py.ENGLISH), (F_SECOND, _py.SECOND_PERSON),
                            (F_JUDGEMENT, _py.JUDGEMENTS), (F_FAILURE, reference.failures),
                            (F_EVALUATIVE, reference.evaluative)):
            for key in group:
                k = self.known_of(key)
                k.flags |= flag
        for i in range(1024):
            self.bloom[i] = 0
        for key in self.lexicon:
            h = hash(key)
            self.bloom[(h & 0xFFFF) >> 6] |= 1ULL << (h & 63)
            self.bloom[((h >> 16) & 0xFFFF) >> 6] |= 1ULL << ((h >> 16) & 63)

    cdef Known known_of(self, str word):
        k = self.lexicon.get(word)
        if k is None:
            k = self.lexicon[word] = Known()
        return k

    cpdef object read(self, str text):
        """kernels.Kernels.read: a post through every kernel."""
        cdef str lower, folded, plain
        cdef bint ascii_text
        if PyUnicode_GET_LENGTH(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
        lower = text.lower()
        if u"\u2019" in lower:
            lower = lower.replace(u"\u2019", u"'")
        ascii_text = lower.isascii()
        folded = lower if ascii_text or IS_NORMALIZED(u"NFKD", lower) else \
            lower.translate(FOLD_TABLE)
        scan = self.scan(folded)
        plain = URL_SUB(u" ", lower) if (u"http" in lower or u"www." in lower) else lower
        # words and sentiment in one pass over the words (each kernel alone makes its own)
        cdef int seen = 0, chars = char_marks(lower)
        cdef list tokens = words(plain)
        # a run in `lower` but not in `plain` is in a URL, whose words are not among the tokens:
        # unstretch leaves them as they are, as kernels.Kernels.words does
        if chars & M_STRETCH:
            tokens = UNSTRETCH(tokens, self.known)
        cdef list firsts = [None, None, None]
        cdef Py_ssize_t but, nhits, ntok = len(tokens)
        cdef bint has_modifier
        cdef bint to_someone = addressed(lower)
        cdef PyObject *known_stack[STACK_WORDS]
        cdef Py_ssize_t hits_stack[STACK_WORDS]
        cdef PyObject **known = known_stack
        cdef Py_ssize_t *hits = hits_stack
        if ntok > STACK_WORDS:
            known = <PyObject **>PyMem_Malloc(ntok * sizeof(PyObject *))
            hits = <Py_ssize_t *>PyMem_Malloc(ntok * sizeof(Py_ssize_t))
            if known == NULL or hits == NULL:
                PyMem_Free(known)
                PyMem_Free(hits)
                raise MemoryError()
        try:
            nhits = self.word_pass(tokens, to_someone, chars & M_TAG, &but, &has_modifier,
                                   &seen, firsts, known, hits)
            found = tuple.__new__(WORDS, (tokens, bool(seen & F_ENGLISH),
                                          bool(seen & F_SECOND), firsts[0], firsts[1],
                                          firsts[2]))
            score, because = self.score(text, lower, tokens, to_someone, known, hits, nhits,
                                        has_modifier, but, (<tuple>scan)[0], (<tuple>scan)[3],
                                        (<tuple>scan)[4], chars)
        finally:
            if known != known_stack:
                PyMem_Free(known)
                PyMem_Free(hits)
        return tuple.__new__(READING, (text, lower, plain, ascii_text, found, scan, score,
                                       because, self.pii(text, ascii_text)))

    def cut(self, str plain):
        """kernels.Kernels.cut: the WORD regex's tokens."""
        return words(plain)

    cdef frozenset clause_ends(self, str lower, bint sentence=False):
        """kernels.Kernels.clause_ends."""
        cdef list found = clause_words(lower, sentence)
        if stretched(lower):
            found = UNSTRETCH(found, self.known)
        return frozenset(found)

    cpdef tuple pii(self, str text, bint ascii_text):
        """kernels.Kernels.pii."""
        return find_pii(text) if may_have_pii(text, ascii_text) else ()

    cpdef object scan(self, str folded):
        """kernels.Kernels.scan: one pass for sentiment phrases, situation and severity cues,
        topics (whole words only) and the first sarcasm markers (anywhere)."""
        cdef int ukind = PyUnicode_KIND(folded)
        cdef void *data = PyUnicode_DATA(folded)
        cdef list phrases = []
        cdef dict situations = {}
        cdef list topics = []
        cdef dict marks = {}
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(folded)
        cdef Py_ssize_t end, start
        cdef bint whole
        cdef int st = 0, o, idx
        cdef Scanner sc = self.scanner
        explicit = irony = None
        if sc is None:
            return self.reference.scan(folded)
        for end in range(n):
            st = sc.delta[st * sc.nclass + sc.klass(PyUnicode_READ(ukind, data, end))]
            o = sc.first[st]
            while o >= 0:
                idx = sc.out[o]
                o = sc.link[o]
                start = end - sc.lengths[idx] + 1
                whole = not ((start > 0 and alnum(PyUnicode_READ(ukind, data, start - 1)))
                             or (end + 1 < n and alnum(PyUnicode_READ(ukind, data, end + 1))))
                if not whole and not sc.anywhere[idx]:
                    continue
                for kind, name, valence in (<tuple>sc.values[idx])[1]:
                    if kind == u"sarcasm":
                        explicit = explicit or name
                    elif kind == u"irony":
                        irony = irony or name
                    elif not whole:
                        continue
                    elif kind == u"sentiment":
                        phrases.append((name, valence))
                    elif kind == u"situation":
                        situations.setdefault(name, []).append(folded[start:end + 1])
                    elif kind == u"severity":
                        marks.setdefault(name, folded[start:end + 1])
                    elif name not in topics:
                        topics.append(name)
        return tuple.__new__(SCAN, (phrases, situations, tuple(topics), explicit, irony, marks))


    cpdef object words(self, str plain, bint ascii_text):
        """kernels.Kernels.words: the cut, and the first word of each set, in one pass."""
        cdef list tokens = words(plain)
        if stretched(plain):
            tokens = UNSTRETCH(tokens, self.known)
        cdef list firsts = [None, None, None]
        cdef int seen = 0
        cdef Py_ssize_t but
        cdef bint has_modifier
        cdef PyObject **known = <PyObject **>PyMem_Malloc((len(tokens) + 1) * sizeof(PyObject *))
        if known == NULL:
            raise MemoryError()
        try:
            self.word_pass(tokens, False, False, &but, &has_modifier, &seen, firsts, known, NULL)
        finally:
            PyMem_Free(known)
        return tuple.__new__(WORDS, (tokens, bool(seen & F_ENGLISH), bool(seen & F_SECOND),
                                     firsts[0], firsts[1], firsts[2]))

    cpdef tuple sentiment(self, str text, str lower, list tokens, object scan):
        """kernels.Kernels.sentiment: (score, because)."""
        cdef int chars = char_marks(lower)
        cdef Py_ssize_t but, nhits, ntok = len(tokens)
        cdef bint has_modifier
        cdef bint to_someone = addressed(lower)
        cdef PyObject **known = <PyObject **>PyMem_Malloc((ntok + 1) * sizeof(PyObject *))
        cdef Py_ssize_t *hits = <Py_ssize_t *>PyMem_Malloc((ntok + 1) * sizeof(Py_ssize_t))
        cdef tuple found = <tuple>scan  # a kernels.Scan: phrases, cues, topics, sarcasm, irony
        try:
            if known == NULL or hits == NULL:
                raise MemoryError()
            nhits = self.word_pass(tokens, to_someone, chars & M_TAG, &but, &has_modifier, NULL,
                                   None, known, hits)
            return self.score(text, lower, tokens, to_someone, known, hits, nhits, has_modifier,
                              but, found[0], found[3], found[4], chars)
        finally:
            PyMem_Free(known)
            PyMem_Free(hits)

    cdef Py_ssize_t word_pass(self, list tokens, bint to_someone, bint has_tag,
                              Py_ssize_t *but, bint *has_modifier, int *seen, list firsts,
                              PyObject **known, Py_ssize_t *hits) except -1:
        """One pass over the words, one lookup a word: each word's Known (borrowed from the
        lexicon, NULL for a word in none of its tables) into `known`. With `seen`: the sets the
        words are in (F_*), and the first judgement, failure and evaluative word in `firsts`.
        With `hits`: the indexes of the sentiment words of the post's table (and hashtags to
        read) for the sentiment loop, their number returned, the first "but" and whether a
        word modifies the next one."""
        cdef Py_hash_t h
        cdef Py_ssize_t i, nhits = 0
        cdef int flags
        cdef PyObject* found
        cdef str tok
        but[0] = -1
        has_modifier[0] = False
        for i in range(len(tokens)):
            tok = <str>tokens[i]
            h = hash(tok)
            found = NULL
            if self.bloom[(h & 0xFFFF) >> 6] & (1ULL << (h & 63)) and \
                    self.bloom[((h >> 16) & 0xFFFF) >> 6] & (1ULL << ((h >> 16) & 63)):
                found = PyDict_GetItem(self.lexicon, tok)
            known[i] = found
            flags = flags_of(found)
            if seen != NULL and flags & F_SETS:
                if flags & F_JUDGEMENT and firsts[0] is None:
                    firsts[0] = tok
                if flags & F_FAILURE and firsts[1] is None:
                    firsts[1] = tok
                if flags & F_EVALUATIVE and firsts[2] is None:
                    firsts[2] = tok
                seen[0] |= flags & F_SETS
            if hits == NULL:
                continue
            if flags & F_MODIFIER:
                has_modifier[0] = True
            if but[0] < 0 and tok == u"but":
                but[0] = i
            if has_entry(found, to_someone):
                hits[nhits] = i
                nhits += 1
            elif has_tag and PyUnicode_READ_CHAR(tok, 0) == u'#' and \
                    PyUnicode_GET_LENGTH(tok) > 3 and tok not in self.zero:
                hits[nhits] = i
                nhits += 1
        return nhits

    cdef tuple score(self, str text, str lower, list tokens, bint to_someone,
                     PyObject **known, Py_ssize_t *hits, Py_ssize_t nhits, bint has_modifier,
                     Py_ssize_t but, list phrases, object sarcasm, object irony, int marks):
        """kernels.Kernels.sentiment's loop over the words the word pass found (`known`,
        `hits`), in the table the word pass used (`to_someone`)."""
        cdef Py_ssize_t ntok = len(tokens)
        cdef Py_ssize_t h, i, j
        cdef str tok, t
        cdef bint has_bang = marks & M_BANG
        cdef bint has_q = marks & M_Q
        if not nhits and not phrases and not has_bang and not has_q:
            return 0.0, u"no sentiment words"
        cdef double pos = 0.0, neg = 0.0, v, scale, m, total, score, rounded
        cdef list reasons = []
        cdef bint problem = False, all_caps, is_problem, negatable, alone
        cdef str upper
        cdef object covered, hedge, entry, after
        cdef frozenset ends = None  # kernels.Kernels.clause_ends, read when a negation is met
        cdef Py_ssize_t k, first = 0, last = 0
        cdef bint negates
        if nhits:
            if but >= 0:  # the sentence "but" is in (kernels.Kernels.sentence_of)
                first, last = SENTENCE_OF(tokens, but, self.clause_ends(lower, True))
            upper = text if text != lower else u""
            all_caps = bool(upper) and text.isupper() and len(set(CAPS_FINDALL(text))) >= 3
            idioms = self.idioms
            covered = ()
            for p, _ in phrases:
                if p in idioms:
                    covered = frozenset().union(*[idioms[q] for q, _ in phrases if q in idioms])
                    break
            for h in range(nhits):
                i = hits[h]
                tok = <str>tokens[i]
                if covered and tok in covered:
                    continue
                entry = entry_of(known[i], to_someone)
                if entry is None:
                    known_tag = self.tags.get(tok[1:])  # kernels.Kernels.hashtag's memo
                    v = known_tag if known_tag is not None else self.hashtag(tok[1:])
                    if not v:
                        continue
                    entry = (v, False, u"", u"", True, None, False)  # an Entry's fields
                # an Entry is a tuple subclass: read by index (unpacking one takes the slow,
                # iterator path)
                v = (<tuple>entry)[0]
                is_problem = (<tuple>entry)[1]
                shout = (<tuple>entry)[2]
                title = (<tuple>entry)[3]
                negatable = (<tuple>entry)[4]
                hedge = (<tuple>entry)[5]
                alone = (<tuple>entry)[6]
                if alone:
                    negates = False
                    for k in range(i + 1, i + 4 if i + 4 < ntok else ntok):
                        after = entry_of(known[k], to_someone)
                        if after is not None and (<tuple>after)[NEGATABLE] and \
                                not (<tuple>after)[NEGATION_ALONE_FIELD] and \
                                PyUnicode_READ_CHAR(<str>tokens[k], 0).isalpha():
                            if ends is None:
                                ends = self.clause_ends(lower)
                            negates = ends.isdisjoint(tokens[i:k])
                            break
                    if not negates:
                        reasons.append((-abs(NEGATION_ALONE), tok))
                        neg += NEGATION_ALONE
                    continue
                if hedge is not None and i + 1 < ntok and tokens[i + 1] in hedge:
                    continue
                if i + 1 < ntok and flags_of(known[i]) & F_BOOSTER:
                    after = entry_of(known[i + 1], to_someone)
                    if after is not None and (<tuple>after)[NEGATABLE]:
                        continue
                scale = 1.0
                if has_modifier and negatable:
                    for j in range(i - 3 if i > 3 else 0, i):
                        if not flags_of(known[j]) & F_MODIFIER:
                            continue
                        m = (<Known>known[j]).modifier
                        if m < 0:
                            if (tokens[j], tokens[j + 1]) in NOT_NEGATING:
                                continue
                            if ends is None:
                                ends = self.clause_ends(lower)
                            if not ends.isdisjoint(tokens[j:i]):
                                continue
                        scale *= m
                if upper:  # whole_word and in_name look for the word first
                    if all_caps or (shout and whole_word(shout, upper)):
                        scale *= 1.3
                    if title and in_name(title, text):
                        scale *= NAME_SCALE
                if but >= 0 and first <= i < last:
                    scale *= 0.5 if i < but else 1.5 if i > but else 1.0
                if scale < 0 < v:
                    problem = True
                v *= scale
                if v > 0:
                    pos += v
                else:
                    neg += v
                    problem = problem or is_problem
                reasons.append((-abs(v), tok))
        for phrase, pv in phrases:
            v = pv
            if v > 0:
                pos += v
            else:
                neg += v
                problem = True
            reasons.append((-abs(v), u"'" + phrase + u"'"))
        if pos:
            if sarcasm is None and problem:
                sarcasm = irony
            if sarcasm:
                neg -= pos
                pos = 0.0
                reasons.append((-9.0, u"sarcasm '" + sarcasm + u"'"))
            elif problem:
                pos *= MIXED_POSITIVE_SCALE
        total = pos + NEGATIVE_WEIGHT * neg
        if has_bang:
            if total:
                total += copysign(0.25 * (marks >> 8), total)
            elif not neg and not has_q and not to_someone:
                total = EXCLAIM_ALONE
                reasons.append((-EXCLAIM_ALONE, u"'!'"))
        if has_q:
            if marks & M_QPAIR:
                total -= 0.5
            if total > 0:
                total *= QUESTION_POSITIVE_SCALE
        if total == 0:
            return 0.0, u"no sentiment words"
        score = total / sqrt(total * total + 15)
        if len(reasons) > 1:
            strongest_first(reasons)
            names = u", ".join([name for _, name in reasons[:3]])
        else:
            names = reasons[0][1] if reasons else u""
        rounded = <long>(score * 10000 + (0.5 if score > 0 else -0.5)) / 10000.0
        return rounded, (u"negative: " if score < 0 else u"positive: ") + names



cdef inline uint64_t _pair_key(uint64_t first, uint64_t second):
    """A word pair's key from its two words' hashes."""
    return (first * <uint64_t>0x9E3779B97F4A7C15) ^ (second + <uint64_t>0x632BE59BD9B4E019)


cdef struct Slot:  # 16 bytes: the table of a few thousand terms stays in the cache
    uint64_t key  # 0: empty (a key of 0 is stored as 1)
    float neg  # the model's weights are single precision (tone.Tone rounds them so too)
    float pos


cdef enum:
    FILTER_WORDS = 2048  # 2**17 bits, one per value of a key's low bits: most probes (pairs)
    # are misses, and 16 KB stays in the cache where the table does not
    STARTS_WORDS = 512  # 2**15 bits: the words that begin a weighted pair (most words begin none)


cdef class Weights:
    """The shipped sentiment model's weights as an open-addressing table of C doubles, keyed by
    a word's Python hash (cached on the string: the rules have hashed each word already) and
    a pair's `_pair_key` of its two words' hashes: a term is one probe of one cache line, no
    string built, no object touched; a bit filter turns most misses away before the
    table, and a second, of the words that begin a weighted pair, skips the pair probe after
    most words. `margins` is tone.margins (the reference) in C; a key shared by two terms is refused
    when the table is built, so the two answer alike up to a 64-bit hash collision between a
    post's word and a weighted term."""
    cdef Slot *slots
    cdef uint64_t *filter
    cdef uint64_t *starts
    cdef Py_ssize_t mask
    cdef double *dense_neg
    cdef double *dense_pos
    cdef Py_ssize_t n_dense

    def __cinit__(self):
        self.slots = NULL
        self.filter = NULL
        self.starts = NULL
        self.dense_neg = NULL
        self.dense_pos = NULL

    def __init__(self, dict terms, tuple dense_neg, tuple dense_pos):
        cdef Py_ssize_t size = 8, i
        cdef uint64_t k
        if self.slots != NULL:
            raise RuntimeError("a Weights is built once")
        if len(dense_neg) != len(dense_pos) or len(dense_neg) > 32:
            raise ValueError("the dense weights must be two tuples of one length, at most 32")
        while size < 2 * len(terms) + 2:
            size <<= 1
        self.mask = size - 1
        self.slots = <Slot *>calloc(size, sizeof(Slot))
        self.filter = <uint64_t *>calloc(FILTER_WORDS, sizeof(uint64_t))
        self.starts = <uint64_t *>calloc(STARTS_WORDS, sizeof(uint64_t))
        self.n_dense = len(dense_neg)
        self.dense_neg = <double *>calloc(self.n_dense + 1, sizeof(double))
        self.dense_pos = <double *>calloc(self.n_dense + 1, sizeof(double))
        if (self.slots == NULL or self.filter == NULL or self.starts == NULL
                or self.dense_neg == NULL
                or self.dense_pos == NULL):
            raise MemoryError()
        for i in range(self.n_dense):
            self.dense_neg[i] = dense_neg[i]
            self.dense_pos[i] = dense_pos[i]
        for term, (n, p) in terms.items():
            first, _, second = term.partition(u" ")
            k = <uint64_t>hash(first)
            if second:
                self.starts[(k >> 6) & (STARTS_WORDS - 1)] |= (<uint64_t>1) << (k & 63)
                k = _pair_key(k, <uint64_t>hash(second))
            if k == 0:
                k = 1
            i = <Py_ssize_t>(k & <uint64_t>self.mask)
            while self.slots[i].key:
                if self.slots[i].key == k:
                    raise ValueError(f"two terms of the model share a key: {term!r}")
                i = (i + 1) & self.mask
            self.slots[i].key = k
            self.slots[i].neg = <float>n
            self.slots[i].pos = <float>p
            self.filter[(k >> 6) & (FILTER_WORDS - 1)] |= (<uint64_t>1) << (k & 63)

    def __dealloc__(self):
        free(self.slots)
        free(self.filter)
        free(self.starts)
        free(self.dense_neg)
        free(self.dense_pos)

    cdef inline Slot *_find(self, uint64_t k):
        if k == 0:
            k = 1
        if not (self.filter[(k >> 6) & (FILTER_WORDS - 1)] >> (k & 63)) & 1:
            return NULL
        cdef Py_ssize_t i = <Py_ssize_t>(k & <uint64_t>self.mask)
        while self.slots[i].key:
            if self.slots[i].key == k:
                return &self.slots[i]
            i = (i + 1) & self.mask
        return NULL

    def margins(self, list tokens, tuple x):
        """(negative margin, positive margin, the word or pair that pulled hardest toward
        negative, toward positive) of a post with dense features `x`: tone.margins."""
        cdef double dense[32]
        cdef Py_ssize_t i
        if self.slots == NULL:
            raise RuntimeError("Weights.__init__ was not called")
        if len(x) != self.n_dense:
            raise ValueError("dense features do not match the model")
        for i in range(self.n_dense):
            dense[i] = x[i]
        return self._margins(tokens, dense)

    def read(self, double score, str label, str lower, words, scan):
        """tone.Tone.read in C: a post's dense features (as tone.dense computes them, from
        kernels.Words: tokens, english, to_company, judgement, failure, evaluative, and
        kernels.Scan: phrases, cues, topics, sarcasm, irony, marks), its margins, and the
        softmax of them: (label, polarity, P(label), the word or pair that pulled hardest)."""
        cdef double dense[32]
        cdef double zn, zp, top, en, e0, ep, z, pn, pp, polarity
        if self.slots == NULL:
            raise RuntimeError("Weights.__init__ was not called")
        if self.n_dense != 16:
            raise ValueError("dense features do not match the model")
        if not isinstance(words, tuple) or len(words) != 6 or not isinstance(scan, tuple) \
                or len(scan) != 6:
            raise TypeError("words and scan are kernels.Words and kernels.Scan")
        # NamedTuples: read as the tuples they are (an item without an index object)
        cdef tuple w = <tuple>words, sc = <tuple>scan
        cdef list tokens = w[0]  # checked: a list, as kernels.Words has it
        dense[0] = 1.0
        dense[1] = score
        dense[2] = score if score > 0 else 0.0
        dense[3] = score if score < 0 else 0.0
        dense[4] = 1.0 if label == u"negative" else 0.0
        dense[5] = 1.0 if label == u"positive" else 0.0
        dense[6] = 1.0 if u"?" in lower else 0.0
        dense[7] = 1.0 if u"!" in lower else 0.0
        dense[8] = 1.0 if lower[:1] == u"@" else 0.0
        dense[9] = 1.0 if w[4] else 0.0
        dense[10] = 1.0 if w[5] else 0.0
        dense[11] = 1.0 if w[3] else 0.0
        dense[12] = 1.0 if w[2] else 0.0
        dense[13] = 1.0 if sc[3] else 0.0
        dense[14] = 1.0 if sc[4] else 0.0
        dense[15] = 1.0 if u"http" in lower else 0.0
        margins = self._margins(tokens, dense)
        zn = margins[0]
        zp = margins[1]
        top = zn if zn > zp else zp
        if top < 0.0:
            top = 0.0
        en = exp(zn - top)
        e0 = exp(-top)
        ep = exp(zp - top)
        z = en + e0 + ep
        pn = en / z
        pp = ep / z
        polarity = <long>((pp - pn) * 10000 + (0.5 if pp > pn else -0.5)) / 10000.0
        if zn > 0.0 and zn >= zp:
            return u"negative", (polarity if polarity < 0.0 else -0.0001), pn, margins[2]
        if zp > 0.0:
            return u"positive", (polarity if polarity > 0.0 else 0.0001), pp, margins[3]
        return u"neutral", polarity, e0 / z, u""

    cdef tuple _margins(self, list tokens, double *x):
        cdef double zn = 0.0, zp = 0.0, scale
        cdef Py_ssize_t i, count = len(tokens)
        cdef uint64_t h, prev = 0
        cdef bint begins = False  # the word before begins a weighted pair
        cdef Tally t
        t.neg = t.pos = t.top_neg = t.top_pos = 0.0
        t.neg_at = t.pos_at = -1
        t.neg_pair = t.pos_pair = False
        for i in range(self.n_dense):
            zn += self.dense_neg[i] * x[i]
            zp += self.dense_pos[i] * x[i]
        for i in range(count):
            h = <uint64_t>hash(tokens[i])
            if begins:
                _tally(&t, self._find(_pair_key(prev, h)), i, True)
            _tally(&t, self._find(h), i, False)
            prev = h
            begins = (self.starts[(h >> 6) & (STARTS_WORDS - 1)] >> (h & 63)) & 1
        if count:
            scale = 1.0 / sqrt(2 * count - 1)
            zn += t.neg * scale
            zp += t.pos * scale
        return (zn, zp, _term(tokens, t.neg_at, t.neg_pair), _term(tokens, t.pos_at, t.pos_pair))


cdef struct Tally:  # the sums of a post's term weights, and the term that pulled hardest each way
    double neg
    double pos
    double top_neg
    double top_pos
    Py_ssize_t neg_at
    Py_ssize_t pos_at
    bint neg_pair
    bint pos_pair


cdef inline void _tally(Tally *t, Slot *slot, Py_ssize_t at, bint pair):
    """Add a found term (the word at `at`, or the pair ending there) to the tally; nothing if
    the term has no weight (slot NULL)."""
    cdef double n, p
    if slot == NULL:
        return
    n = slot.neg
    p = slot.pos
    t.neg += n
    t.pos += p
    if n > t.top_neg:
        t.top_neg, t.neg_at, t.neg_pair = n, at, pair
    if p > t.top_pos:
        t.top_pos, t.pos_at, t.pos_pair = p, at, pair


cdef str _term(list tokens, Py_ssize_t at, bint pair):
    if at < 0:
        return u""
    if pair:
        return <str>tokens[at - 1] + u" " + <str>tokens[at]
    return <str>tokens[at]
