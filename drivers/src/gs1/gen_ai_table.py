# Generates ai_table.rs from ai_table.in (lines of the GS1 Barcode Syntax Dictionary,
# gs1/gs1-syntax-dictionary commit 0344bf48, Apache-2.0).
# Run from drivers/src/gs1: python3 gen_ai_table.py ai_table.in ai_table.rs && rustfmt ai_table.rs
import re,sys
out=[]
out.append('''//! The GS1 Application Identifier table.
//!
//! Generated from the GS1 Barcode Syntax Dictionary (`gs1-syntax-dictionary.txt`, repository
//! gs1/gs1-syntax-dictionary, commit 0344bf48; Apache-2.0, (c) BWIPP, Zint, GS1 AISBL), one
//! entry per dictionary line: the AI range, whether the AI has a predefined length (no FNC1
//! separator needed after it), its components (character set, length, the linters we apply)
//! and, for GS1 Digital Link primary keys, the ordered qualifier AIs. Keep it generated: fix
//! the generator input, not the entries. Linters other than `csum`, `yymmd0` and `yymmdd` are
//! not applied (see the crate's "Current limitations").

use super::ai::{AiDef, Check, Comp, Cset, DlKey};

use Check::{Csum, Yymmd0, Yymmdd};
use Cset::{N, X, Y, Z};

const fn c(cset: Cset, min: u8, max: u8, check: Check) -> Comp {
    Comp { cset, min, max, optional: false, check }
}

const fn o(cset: Cset, min: u8, max: u8, check: Check) -> Comp {
    Comp { cset, min, max, optional: true, check }
}

const NO: Check = Check::None;
const NODL: DlKey = DlKey::No;

/// Every AI the dictionary defines, in lexical order of the AI.
pub(crate) static AI_TABLE: &[AiDef] = &[''')
for line in open(sys.argv[1]):
    line=line.rstrip('\n')
    body,_,title=line.partition('#')
    title=title.strip()
    t=body.split()
    ai=t.pop(0)
    lo,hi=(ai.split('-')+[ai])[:2]
    pre=False
    if t and t[0]=='*': pre=True; t.pop(0)
    comps=[]; dl='NODL'
    for tok in t:
        if '=' in tok or tok=='dlpkey':
            if tok.startswith('dlpkey'):
                if tok=='dlpkey': dl='DlKey::Yes(&[])'
                else:
                    alts=tok.split('=',1)[1].split('|')
                    dl='DlKey::Yes(&[%s])'%', '.join('&[%s]'%', '.join('"%s"'%q for q in a.split(',')) for a in alts)
            continue
        opt=tok.startswith('[')
        tok=tok.replace('[','').replace(']','')
        parts=tok.split(',')
        ty=parts[0]; lint=parts[1:]
        m=re.fullmatch(r'([NXYZ])(\.\.)?(\d+)',ty); assert m,(line,tok)
        cs=m.group(1); mx=int(m.group(3)); mn=1 if m.group(2) else mx
        chk='NO'
        for l in lint:
            if l=='csum': chk='Csum'
            elif l=='yymmd0': chk='Yymmd0'
            elif l=='yymmdd': chk='Yymmdd'
        comps.append('%s(%s, %d, %d, %s)'%('o' if opt else 'c',cs,mn,mx,chk))
    e='    AiDef { lo: "%s", hi: "%s", predefined: %s, comps: &[%s], title: "%s", dl: %s },'%(lo,hi,'true' if pre else 'false',', '.join(comps),title.replace('"','\\"'),dl)
    if len(e)>100:
        e='    AiDef {\n        lo: "%s",\n        hi: "%s",\n        predefined: %s,\n        comps: &[%s],\n        title: "%s",\n        dl: %s,\n    },'%(lo,hi,'true' if pre else 'false',', '.join(comps),title.replace('"','\\"'),dl)
    out.append(e)
out.append('];')
open(sys.argv[2],'w').write('\n'.join(out)+'\n')
