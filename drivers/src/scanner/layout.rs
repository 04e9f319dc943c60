//! Keyboard layouts: which character a key (with Shift or AltGr) types, and back.

use super::keycodes::*;

/// A keyboard layout, matching the scanner's "keyboard country" setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// US English (QWERTY).
    #[default]
    Us,
    /// German (QWERTZ, with AltGr and dead keys `^` and `´`/`` ` ``).
    De,
}

/// The modifiers a keystroke needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mods {
    /// Shift held.
    pub shift: bool,
    /// AltGr (right Alt) held.
    pub altgr: bool,
}

/// (key, plain, shifted, AltGr).
type Row = (u16, char, char, Option<char>);

#[rustfmt::skip]
const LETTERS: [(u16, char); 26] = [
    (KEY_A, 'a'), (KEY_B, 'b'), (KEY_C, 'c'), (KEY_D, 'd'), (KEY_E, 'e'), (KEY_F, 'f'),
    (KEY_G, 'g'), (KEY_H, 'h'), (KEY_I, 'i'), (KEY_J, 'j'), (KEY_K, 'k'), (KEY_L, 'l'),
    (KEY_M, 'm'), (KEY_N, 'n'), (KEY_O, 'o'), (KEY_P, 'p'), (KEY_Q, 'q'), (KEY_R, 'r'),
    (KEY_S, 's'), (KEY_T, 't'), (KEY_U, 'u'), (KEY_V, 'v'), (KEY_W, 'w'), (KEY_X, 'x'),
    (KEY_Y, 'y'), (KEY_Z, 'z'),
];

#[rustfmt::skip]
const US: &[Row] = &[
    (KEY_1, '1', '!', None), (KEY_2, '2', '@', None), (KEY_3, '3', '#', None),
    (KEY_4, '4', '$', None), (KEY_5, '5', '%', None), (KEY_6, '6', '^', None),
    (KEY_7, '7', '&', None), (KEY_8, '8', '*', None), (KEY_9, '9', '(', None),
    (KEY_0, '0', ')', None), (KEY_MINUS, '-', '_', None), (KEY_EQUAL, '=', '+', None),
    (KEY_LEFTBRACE, '[', '{', None), (KEY_RIGHTBRACE, ']', '}', None),
    (KEY_SEMICOLON, ';', ':', None), (KEY_APOSTROPHE, '\'', '"', None),
    (KEY_GRAVE, '`', '~', None), (KEY_BACKSLASH, '\\', '|', None), (KEY_COMMA, ',', '<', None),
    (KEY_DOT, '.', '>', None), (KEY_SLASH, '/', '?', None), (KEY_SPACE, ' ', ' ', None),
];

// Dead keys (`^` on KEY_GRAVE, `´` and `` ` `` on KEY_EQUAL) are listed with the character
// they stand for; the decoder composes nothing and emits that character on the next key.
#[rustfmt::skip]
const DE: &[Row] = &[
    (KEY_1, '1', '!', None), (KEY_2, '2', '"', Some('²')), (KEY_3, '3', '§', Some('³')),
    (KEY_4, '4', '$', None), (KEY_5, '5', '%', None), (KEY_6, '6', '&', None),
    (KEY_7, '7', '/', Some('{')), (KEY_8, '8', '(', Some('[')), (KEY_9, '9', ')', Some(']')),
    (KEY_0, '0', '=', Some('}')), (KEY_MINUS, 'ß', '?', Some('\\')),
    (KEY_EQUAL, '´', '`', None), (KEY_LEFTBRACE, 'ü', 'Ü', None),
    (KEY_RIGHTBRACE, '+', '*', Some('~')), (KEY_SEMICOLON, 'ö', 'Ö', None),
    (KEY_APOSTROPHE, 'ä', 'Ä', None), (KEY_GRAVE, '^', '°', None),
    (KEY_BACKSLASH, '#', '\'', None), (KEY_102ND, '<', '>', Some('|')),
    (KEY_COMMA, ',', ';', None), (KEY_DOT, '.', ':', None), (KEY_SLASH, '-', '_', None),
    (KEY_SPACE, ' ', ' ', None), (KEY_Q, 'q', 'Q', Some('@')), (KEY_E, 'e', 'E', Some('€')),
    (KEY_M, 'm', 'M', Some('µ')),
];

#[rustfmt::skip]
const KEYPAD: [(u16, char); 15] = [
    (KEY_KP0, '0'), (KEY_KP1, '1'), (KEY_KP2, '2'), (KEY_KP3, '3'), (KEY_KP4, '4'),
    (KEY_KP5, '5'), (KEY_KP6, '6'), (KEY_KP7, '7'), (KEY_KP8, '8'), (KEY_KP9, '9'),
    (KEY_KPDOT, '.'), (KEY_KPPLUS, '+'), (KEY_KPMINUS, '-'), (KEY_KPASTERISK, '*'),
    (KEY_KPSLASH, '/'),
];

impl Layout {
    fn rows(self) -> &'static [Row] {
        match self {
            Layout::Us => US,
            Layout::De => DE,
        }
    }

    /// The letter a key types in this layout (DE swaps Y and Z).
    fn letter(self, key: u16) -> Option<char> {
        let key = match (self, key) {
            (Layout::De, KEY_Y) => KEY_Z,
            (Layout::De, KEY_Z) => KEY_Y,
            (_, k) => k,
        };
        LETTERS.iter().find(|(k, _)| *k == key).map(|(_, c)| *c)
    }

    /// The character `key` types with these modifiers; `caps` is Caps Lock (letters only).
    pub fn char_for(self, key: u16, mods: Mods, caps: bool) -> Option<char> {
        if let Some((_, c)) = KEYPAD.iter().find(|(k, _)| *k == key) {
            return Some(*c);
        }
        let row = self.rows().iter().find(|r| r.0 == key);
        if mods.altgr {
            return row.and_then(|r| r.3);
        }
        if let Some(c) = self.letter(key) {
            return Some(if mods.shift != caps {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        row.map(|r| if mods.shift { r.2 } else { r.1 })
    }

    /// The keystroke that types `c`, preferring the main block over the keypad; `None` if the
    /// layout cannot type it. Used by simulators and test generators.
    pub fn keystroke(self, c: char) -> Option<(u16, Mods)> {
        let plain = Mods::default();
        let shift = Mods {
            shift: true,
            altgr: false,
        };
        let altgr = Mods {
            shift: false,
            altgr: true,
        };
        for key in LETTERS.iter().map(|(k, _)| *k) {
            if self.letter(key) == Some(c) {
                return Some((key, plain));
            }
            if self.letter(key).map(|l| l.to_ascii_uppercase()) == Some(c) {
                return Some((key, shift));
            }
        }
        for &(key, p, s, a) in self.rows() {
            if p == c && self.letter(key).is_none() {
                return Some((key, plain));
            }
            if s == c && self.letter(key).is_none() {
                return Some((key, shift));
            }
            if a == Some(c) {
                return Some((key, altgr));
            }
        }
        None
    }

    /// Whether `key` is a dead key in this layout (it types nothing until the next key).
    pub fn is_dead(self, key: u16, mods: Mods) -> bool {
        self == Layout::De
            && !mods.altgr
            && matches!(key, KEY_GRAVE | KEY_EQUAL)
            && !(key == KEY_GRAVE && mods.shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_ascii_character_round_trips_on_us() {
        for c in (0x20u8..0x7f).map(char::from) {
            let (key, mods) = Layout::Us.keystroke(c).unwrap_or_else(|| panic!("{c:?}"));
            assert_eq!(Layout::Us.char_for(key, mods, false), Some(c));
        }
    }

    #[test]
    fn german_layout_swaps_y_z_and_uses_altgr() {
        let de = Layout::De;
        assert_eq!(de.char_for(KEY_Z, Mods::default(), false), Some('y'));
        assert_eq!(
            de.char_for(
                KEY_Y,
                Mods {
                    shift: true,
                    altgr: false
                },
                false
            ),
            Some('Z')
        );
        assert_eq!(
            de.char_for(
                KEY_Q,
                Mods {
                    shift: false,
                    altgr: true
                },
                false
            ),
            Some('@')
        );
        assert_eq!(
            de.char_for(
                KEY_7,
                Mods {
                    shift: true,
                    altgr: false
                },
                false
            ),
            Some('/')
        );
        assert_eq!(de.char_for(KEY_SLASH, Mods::default(), false), Some('-'));
        assert_eq!(de.char_for(KEY_A, Mods::default(), true), Some('A'));
        for c in "azAZyY09-_/.:;,@€{}[]\\|~<>#'+*!\"§$%&()=?äöüÄÖÜß".chars() {
            let (key, mods) = de.keystroke(c).unwrap_or_else(|| panic!("{c:?}"));
            assert_eq!(de.char_for(key, mods, false), Some(c), "{c:?}");
        }
        assert!(de.is_dead(KEY_GRAVE, Mods::default()));
        assert!(!de.is_dead(
            KEY_GRAVE,
            Mods {
                shift: true,
                altgr: false
            }
        ));
    }
}
