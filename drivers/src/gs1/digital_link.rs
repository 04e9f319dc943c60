//! GS1 Digital Link URIs (uncompressed): `https://host/…/01/{gtin}/10/{lot}/21/{serial}?17=…`.

use super::ai::{interpret, lookup, Ai, DlKey, Value};
use super::error::Gs1Error;

/// Parses a Digital Link URI into its elements: the primary key, its path qualifiers in order,
/// then the AIs of the query string. Returns `Ok(None)` if `uri` is not an http(s) URI or its
/// path holds no primary key (a plain web link). `base` is added to error positions.
///
/// The path may start with any prefix of segments; the primary key is the first segment that
/// is a primary-key AI with an even number of segments from it to the end. Query parameters
/// that are not numeric AIs (e.g. `linkType`) are ignored. A GTIN of 8, 12 or 13 digits is
/// padded to 14.
pub fn parse_digital_link(uri: &str, base: usize) -> Result<Option<Vec<(Ai, Value)>>, Gs1Error> {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    let after_scheme = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Ok(None);
    };
    let uri = uri.split('#').next().unwrap_or(uri);
    let (path_part, query) = match uri.find('?') {
        Some(q) => (&uri[..q], Some((&uri[q + 1..], q + 1))),
        None => (uri, None),
    };
    let Some(path_start) = path_part[after_scheme..]
        .find('/')
        .map(|p| p + after_scheme)
    else {
        return Ok(None);
    };

    // Segments with their offsets; empty segments (double or trailing slashes) are skipped.
    let mut segs = Vec::new();
    let mut off = path_start + 1;
    for seg in path_part[path_start + 1..].split('/') {
        if !seg.is_empty() {
            segs.push((seg, off));
        }
        off += seg.len() + 1;
    }
    let key_at = (0..segs.len()).find(|&k| {
        (segs.len() - k) % 2 == 0
            && matches!(lookup(segs[k].0.as_bytes()), Some((ai, d))
                if ai.as_str() == segs[k].0 && matches!(d.dl, DlKey::Yes(_)))
    });
    let Some(key_at) = key_at else {
        return Ok(None);
    };

    let mut out: Vec<(Ai, Value)> = Vec::new();
    let mut qualifiers: &[&[&str]] = &[];
    let mut seen: Vec<&str> = Vec::new();
    for pair in segs[key_at..].chunks(2) {
        let [(ai_seg, ai_off), (value, value_off)] = [pair[0], pair[1]];
        let (ai, def) = match lookup(ai_seg.as_bytes()) {
            Some((ai, def)) if ai.as_str() == ai_seg => (ai, def),
            _ => {
                return Err(Gs1Error::UnknownAi {
                    position: base + ai_off,
                })
            }
        };
        if out.is_empty() {
            if let DlKey::Yes(q) = def.dl {
                qualifiers = q;
            }
        } else {
            // The qualifiers so far plus this one must be in order in one allowed sequence.
            seen.push(ai_seg);
            let ok = qualifiers
                .iter()
                .any(|seq| is_ordered_subsequence(&seen, seq));
            if !ok {
                return Err(Gs1Error::QualifierNotAllowed {
                    ai,
                    position: base + ai_off,
                });
            }
        }
        let decoded = percent_decode(value, base + value_off)?;
        let decoded = pad_gtin(ai, decoded);
        out.push((ai, interpret(ai, def, &decoded, base + value_off)?));
    }

    if let Some((query, q_off)) = query {
        let mut off = q_off;
        for param in query.split('&') {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value_off = off + key.len() + 1;
            if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                let (ai, def) = match lookup(key.as_bytes()) {
                    Some((ai, def)) if ai.as_str() == key => (ai, def),
                    _ => {
                        return Err(Gs1Error::UnknownAi {
                            position: base + off,
                        })
                    }
                };
                let decoded = percent_decode(value, base + value_off)?;
                let decoded = pad_gtin(ai, decoded);
                out.push((ai, interpret(ai, def, &decoded, base + value_off)?));
            }
            off += param.len() + 1;
        }
    }
    Ok(Some(out))
}

fn is_ordered_subsequence(seen: &[&str], seq: &[&str]) -> bool {
    let mut it = seq.iter();
    seen.iter().all(|s| it.any(|q| q == s))
}

fn pad_gtin(ai: Ai, value: Vec<u8>) -> Vec<u8> {
    if ai == Ai::GTIN && matches!(value.len(), 8 | 12 | 13) {
        let mut padded = vec![b'0'; 14 - value.len()];
        padded.extend_from_slice(&value);
        padded
    } else {
        value
    }
}

/// Decodes `%XX` escapes. The result must be UTF-8 (checked by the AI's character set later,
/// which only allows ASCII).
fn percent_decode(s: &str, position: usize) -> Result<Vec<u8>, Gs1Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            match byte {
                Some(v) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                    out.push(v);
                    i += 3;
                }
                _ => {
                    return Err(Gs1Error::PercentEncoding {
                        position: position + i,
                    })
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::ai::Gs1Date;
    use super::super::gtin::Gtin;
    use super::*;

    fn gtin(s: &str) -> Value {
        Value::Gtin(Gtin::parse(s).unwrap())
    }

    #[test]
    fn reference_uri_from_protocols_md() {
        let uri = "https://id.gs1.org/01/09506000134352/10/ABC123/21/XYZ?17=261231";
        let els = parse_digital_link(uri, 0).unwrap().unwrap();
        assert_eq!(
            els,
            vec![
                (Ai::GTIN, gtin("09506000134352")),
                (Ai::BATCH, Value::Text("ABC123".into())),
                (Ai::SERIAL, Value::Text("XYZ".into())),
                (
                    Ai::EXPIRY,
                    Value::Date(Gs1Date {
                        yy: 26,
                        month: 12,
                        day: Some(31)
                    })
                ),
            ]
        );
    }

    #[test]
    fn prefix_paths_short_gtins_percent_decoding_and_other_params() {
        let uri = "HTTPS://example.com/shop/p/01/5901234123457/21/A%2FB%25\
                   ?linkType=gs1:pip&3103=001250";
        let els = parse_digital_link(uri, 0).unwrap().unwrap();
        assert_eq!(els[0], (Ai::GTIN, gtin("05901234123457")));
        assert_eq!(els[1], (Ai::SERIAL, Value::Text("A/B%".into())));
        assert_eq!(els.len(), 3);
        let uri = "http://example.com/01/09506000134352/#frag";
        assert_eq!(parse_digital_link(uri, 0).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn plain_links_are_not_digital_links() {
        assert_eq!(
            parse_digital_link("https://example.com/about/us", 0),
            Ok(None)
        );
        assert_eq!(parse_digital_link("https://example.com", 0), Ok(None));
        assert_eq!(
            parse_digital_link("ftp://example.com/01/09506000134352", 0),
            Ok(None)
        );
        assert_eq!(parse_digital_link("0109506000134352", 0), Ok(None));
    }

    #[test]
    fn errors_name_the_ai_and_position() {
        let uri = "https://id.gs1.org/01/09506000134353";
        assert!(matches!(
            parse_digital_link(uri, 3),
            Err(Gs1Error::CheckDigit {
                ai: Ai::GTIN,
                position: 25,
                expected: 2,
                found: 3
            })
        ));
        let uri = "https://id.gs1.org/01/09506000134352/21/XYZ/10/ABC";
        assert_eq!(
            parse_digital_link(uri, 0),
            Err(Gs1Error::QualifierNotAllowed {
                ai: Ai::BATCH,
                position: 44
            })
        );
        let uri = "https://id.gs1.org/01/09506000134352/10/A%G1";
        assert_eq!(
            parse_digital_link(uri, 0),
            Err(Gs1Error::PercentEncoding { position: 41 })
        );
        let uri = "https://id.gs1.org/01/09506000134352?17=261332";
        assert!(matches!(
            parse_digital_link(uri, 0),
            Err(Gs1Error::InvalidDate { ai: Ai::EXPIRY, .. })
        ));
        let uri = "https://id.gs1.org/01/09506000134352?99999=1";
        assert_eq!(
            parse_digital_link(uri, 0),
            Err(Gs1Error::UnknownAi { position: 37 })
        );
        let uri = "https://id.gs1.org/01/09506000134352/10/A%20B";
        assert!(matches!(
            parse_digital_link(uri, 0),
            Err(Gs1Error::InvalidCharacter {
                ai: Ai::BATCH,
                ch: ' ',
                ..
            })
        ));
    }

    #[test]
    fn other_primary_keys() {
        let uri = "https://example.com/00/106141411234567897";
        let els = parse_digital_link(uri, 0).unwrap().unwrap();
        assert_eq!(
            els,
            vec![(Ai::SSCC, Value::Sscc("106141411234567897".into()))]
        );
        let uri = "https://example.com/414/5412345000013/254/A1";
        assert_eq!(parse_digital_link(uri, 0).unwrap().unwrap().len(), 2);
    }
}
