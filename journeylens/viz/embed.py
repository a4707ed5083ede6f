"""plotly.js and the figures of a page, packed small enough to embed and unpacked in the browser.

A report must work offline, so plotly.js travels inside the page; it is 4.8 MB.
Measured on plotly.js 3 (plotly 7.1): gzip -9 makes it 1.47 MB, and the base64
text a page would carry 1.96 MB; LZMA makes it 1.11 MB. Browsers unpack only
gzip and deflate by themselves (``DecompressionStream``; no brotli in Chromium
156), so the page carries an LZMA stream and a small LZMA decoder
(:data:`UNPACK_JS`, ~3 KB). The figures' JSON is packed in the same way,
separately (plotly's stream is the same for every page and is cached).

Text encoding of the bytes: 7 bits per character. The bitstream is cut into
7-bit groups; a group is written as the ASCII character of its value, except
the values that cannot stand in a script element's text (NUL, CR, ``<``): such
a group and the one after it are written together as one character between
U+0100 and U+04FF (two bytes in UTF-8), ``0x100 + 128 * k + next`` where ``k``
is the position of the value in :data:`UNSAFE`. Every byte of the page then
carries 7 bits: 8/7 of the binary size, where base64 costs 4/3.
"""

from __future__ import annotations

import hashlib
import lzma
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

#: 7-bit values that cannot appear as themselves in the text of a script element
UNSAFE = (0x00, 0x0D, 0x3C)

_FILTERS = [{"id": lzma.FILTER_LZMA1, "preset": 6, "lc": 3, "lp": 0, "pb": 0, "dict_size": 1 << 23,
             "nice_len": 273}]


def pack(data: bytes) -> bytes:
    """``data`` as an LZMA stream (the ``.lzma`` format: 13-byte header, then the coded stream).

    >>> lzma.decompress(pack(b"journey " * 100)) == b"journey " * 100
    True
    """
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=_FILTERS)


def to_text(data: bytes) -> str:
    """``data`` as 7-bit text for a script element (see the module docstring); :func:`from_text` inverts it.

    >>> payload = bytes(range(256)) * 3
    >>> from_text(to_text(payload), len(payload)) == payload
    True
    >>> any(ch in to_text(payload) for ch in "\\x00\\r<")
    False
    """
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    bits = np.concatenate([bits, np.zeros(-len(bits) % 7, dtype=np.uint8)])
    groups = bits.reshape(-1, 7) @ (1 << np.arange(6, -1, -1))
    n = len(groups)
    codes = np.append(groups.astype(np.int64), 0)  # a last unsafe group is written with a 0 partner
    keep = np.r_[np.ones(n, dtype=bool), False]
    rank = {v: k for k, v in enumerate(UNSAFE)}
    partner = -1
    for j in np.flatnonzero(np.isin(groups, UNSAFE)).tolist():
        if j == partner:  # already written inside the character of the group before it
            continue
        codes[j] = 0x100 + 128 * rank[int(groups[j])] + codes[j + 1]
        keep[j + 1] = False
        partner = j + 1
    return "".join(map(chr, codes[keep].tolist()))


def from_text(text: str, size: int) -> bytes:
    """The ``size`` bytes that :func:`to_text` wrote as ``text`` (what :data:`UNPACK_JS` does in the page)."""
    groups = []
    for ch in text:
        c = ord(ch)
        if c < 128:
            groups.append(c)
        else:
            groups += [UNSAFE[(c - 0x100) >> 7], (c - 0x100) & 127]
    bits = np.unpackbits(np.array(groups, dtype=np.uint8)[:, None], axis=1)[:, 1:].ravel()
    return np.packbits(bits[: 8 * size]).tobytes()


def _cache_dir() -> Path:
    if os.environ.get("JOURNEYLENS_CACHE"):
        return Path(os.environ["JOURNEYLENS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "journeylens"


@lru_cache(maxsize=1)
def packed_plotly() -> tuple[bytes, int]:
    """plotly.js of the installed plotly package, packed, and its size unpacked.

    Packing takes several seconds, so the result is kept for the process and in
    ``$JOURNEYLENS_CACHE`` (default ``~/.cache/journeylens``), keyed by the
    script's hash; an unwritable cache only costs the time.
    """
    from plotly.offline import get_plotlyjs

    script = get_plotlyjs().encode("utf-8")
    key = hashlib.sha256(script).hexdigest()[:16]
    path = _cache_dir() / f"plotly-{key}.lzma"
    try:
        packed = path.read_bytes()
        if hashlib.sha256(lzma.decompress(packed)).hexdigest()[:16] == key:
            return packed, len(script)
    except (OSError, lzma.LZMAError):
        pass
    packed = pack(script)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(packed)
        partial.replace(path)
    except OSError:
        pass
    return packed, len(script)


# The page's unpacking: 7-bit text → bytes → LZMA decoder → text. The decoder follows the
# LZMA format (a range coder over adaptive bit probabilities; literals coded bit by bit in the
# context of the previous byte, or of the byte at the last distance after a match; lengths and
# distances through bit trees; four recent distances reused; twelve states of what came last).
UNPACK_JS = r"""
(function(){
var UNSAFE=[%(unsafe)s];
function bytesOf(text,size){
  var out=new Uint8Array(size),o=0,acc=0,nb=0;
  function put(g){acc=(acc<<7)|g;nb+=7;if(nb>=8){nb-=8;if(o<size)out[o++]=(acc>>nb)&255;acc&=(1<<nb)-1;}}
  for(var k=0;k<text.length&&o<size;k++){var c=text.charCodeAt(k);
    if(c<128)put(c);else{c-=256;put(UNSAFE[c>>7]);put(c&127);}}
  return out;
}
function unlzma(src,size){
  var p=src[0],lc=p%%9,lp=((p/9)|0)%%5,pb=(p/45)|0,pos=14,range=4294967295,code=0,k;
  for(k=0;k<4;k++)code=code*256+src[pos++];
  function probs(n){var a=new Uint16Array(n);a.fill(1024);return a;}
  function bit(a,i){var pr=a[i],bound=(range>>>11)*pr,b;
    if(code<bound){range=bound;a[i]=pr+((2048-pr)>>>5);b=0;}
    else{range-=bound;code-=bound;a[i]=pr-(pr>>>5);b=1;}
    if(range<16777216){range*=256;code=code*256+src[pos++];}
    return b;}
  function direct(n){var r=0;for(var j=0;j<n;j++){range=Math.floor(range/2);
    if(code>=range){code-=range;r=r*2+1;}else r=r*2;
    if(range<16777216){range*=256;code=code*256+src[pos++];}}return r;}
  function tree(a,off,n){var m=1;for(var j=0;j<n;j++)m=(m<<1)+bit(a,off+m);return m-(1<<n);}
  function rtree(a,off,n){var m=1,s=0;for(var j=0;j<n;j++){var b=bit(a,off+m);m=(m<<1)+b;s|=b<<j;}return s;}
  function lenCoder(){return{c:probs(2),low:probs(16<<3),mid:probs(16<<3),high:probs(256)};}
  function length(L,ps){if(!bit(L.c,0))return tree(L.low,ps<<3,3);
    if(!bit(L.c,1))return 8+tree(L.mid,ps<<3,3);return 16+tree(L.high,0,8);}
  var out=new Uint8Array(size),n=0,lit=probs(768<<(lc+lp)),isMatch=probs(192),isRep=probs(12),
    g0=probs(12),g1=probs(12),g2=probs(12),rep0Long=probs(192),slots=probs(256),spec=probs(115),
    align=probs(16),lens=lenCoder(),repLens=lenCoder(),state=0,r0=0,r1=0,r2=0,r3=0,
    pbMask=(1<<pb)-1,lpMask=(1<<lp)-1;
  while(n<size){
    var ps=n&pbMask;
    if(!bit(isMatch,(state<<4)+ps)){
      var prev=n>0?out[n-1]:0,base=768*(((n&lpMask)<<lc)+(prev>>>(8-lc))),s=1;
      if(state>=7){var mb=out[n-r0-1];
        do{var mbit=(mb>>7)&1;mb<<=1;var b=bit(lit,base+((1+mbit)<<8)+s);s=(s<<1)|b;if(mbit!==b)break;}while(s<256);}
      while(s<256)s=(s<<1)|bit(lit,base+s);
      out[n++]=s-256;state=state<4?0:(state<10?state-3:state-6);continue;}
    var len;
    if(bit(isRep,state)){
      if(!bit(g0,state)){
        if(!bit(rep0Long,(state<<4)+ps)){state=state<7?9:11;out[n]=out[n-r0-1];n++;continue;}
      }else{var d;
        if(!bit(g1,state))d=r1;else{if(!bit(g2,state))d=r2;else{d=r3;r3=r2;}r2=r1;}
        r1=r0;r0=d;}
      len=length(repLens,ps);state=state<7?8:11;
    }else{
      r3=r2;r2=r1;r1=r0;len=length(lens,ps);state=state<7?7:10;
      var slot=tree(slots,(len<3?len:3)<<6,6);
      if(slot<4)r0=slot;else{var nd=(slot>>>1)-1,dist=(2|(slot&1))*Math.pow(2,nd);
        if(slot<14)dist+=rtree(spec,dist-slot,nd);else dist+=direct(nd-4)*16+rtree(align,0,4);
        r0=dist;}
      if(r0===4294967295)break;
    }
    len+=2;
    if(r0>=n)throw new Error("corrupt stream");
    for(var e=n+len>size?size:n+len;n<e;n++)out[n]=out[n-r0-1];
  }
  return out;
}
window.journeylensUnpack=function(id){var el=document.getElementById(id);
  var bytes=bytesOf(el.textContent,+el.dataset.packed);
  return new TextDecoder().decode(unlzma(bytes,+el.dataset.size));};
})();
""" % {"unsafe": ",".join(str(v) for v in UNSAFE)}


def payload_element(element_id: str, stream: bytes, size: int) -> str:
    """A non-running script element holding the LZMA ``stream`` (:func:`pack`) of ``size`` bytes:
    ``window.journeylensUnpack(element_id)`` in the page gives them back as text."""
    return (f'<script type="application/x-journeylens" id="{element_id}" data-packed="{len(stream)}" '
            f'data-size="{size}">{to_text(stream)}</script>')
