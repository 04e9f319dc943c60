//! Linux input event constants used by the keyboard-wedge decoder.
//!
//! Generated from `/usr/include/linux/input-event-codes.h` (Linux UAPI), not typed by hand:
//! `grep '#define (EV|SYN|KEY)_…'` over the header, one constant per line.

/// `EV_SYN` from the Linux UAPI header.
pub const EV_SYN: u16 = 0x00;
/// `EV_KEY` from the Linux UAPI header.
pub const EV_KEY: u16 = 0x01;
/// `EV_MSC` from the Linux UAPI header.
pub const EV_MSC: u16 = 0x04;
/// `SYN_REPORT` from the Linux UAPI header.
pub const SYN_REPORT: u16 = 0;
/// `KEY_ESC` from the Linux UAPI header.
pub const KEY_ESC: u16 = 1;
/// `KEY_1` from the Linux UAPI header.
pub const KEY_1: u16 = 2;
/// `KEY_2` from the Linux UAPI header.
pub const KEY_2: u16 = 3;
/// `KEY_3` from the Linux UAPI header.
pub const KEY_3: u16 = 4;
/// `KEY_4` from the Linux UAPI header.
pub const KEY_4: u16 = 5;
/// `KEY_5` from the Linux UAPI header.
pub const KEY_5: u16 = 6;
/// `KEY_6` from the Linux UAPI header.
pub const KEY_6: u16 = 7;
/// `KEY_7` from the Linux UAPI header.
pub const KEY_7: u16 = 8;
/// `KEY_8` from the Linux UAPI header.
pub const KEY_8: u16 = 9;
/// `KEY_9` from the Linux UAPI header.
pub const KEY_9: u16 = 10;
/// `KEY_0` from the Linux UAPI header.
pub const KEY_0: u16 = 11;
/// `KEY_MINUS` from the Linux UAPI header.
pub const KEY_MINUS: u16 = 12;
/// `KEY_EQUAL` from the Linux UAPI header.
pub const KEY_EQUAL: u16 = 13;
/// `KEY_BACKSPACE` from the Linux UAPI header.
pub const KEY_BACKSPACE: u16 = 14;
/// `KEY_TAB` from the Linux UAPI header.
pub const KEY_TAB: u16 = 15;
/// `KEY_Q` from the Linux UAPI header.
pub const KEY_Q: u16 = 16;
/// `KEY_W` from the Linux UAPI header.
pub const KEY_W: u16 = 17;
/// `KEY_E` from the Linux UAPI header.
pub const KEY_E: u16 = 18;
/// `KEY_R` from the Linux UAPI header.
pub const KEY_R: u16 = 19;
/// `KEY_T` from the Linux UAPI header.
pub const KEY_T: u16 = 20;
/// `KEY_Y` from the Linux UAPI header.
pub const KEY_Y: u16 = 21;
/// `KEY_U` from the Linux UAPI header.
pub const KEY_U: u16 = 22;
/// `KEY_I` from the Linux UAPI header.
pub const KEY_I: u16 = 23;
/// `KEY_O` from the Linux UAPI header.
pub const KEY_O: u16 = 24;
/// `KEY_P` from the Linux UAPI header.
pub const KEY_P: u16 = 25;
/// `KEY_LEFTBRACE` from the Linux UAPI header.
pub const KEY_LEFTBRACE: u16 = 26;
/// `KEY_RIGHTBRACE` from the Linux UAPI header.
pub const KEY_RIGHTBRACE: u16 = 27;
/// `KEY_ENTER` from the Linux UAPI header.
pub const KEY_ENTER: u16 = 28;
/// `KEY_LEFTCTRL` from the Linux UAPI header.
pub const KEY_LEFTCTRL: u16 = 29;
/// `KEY_A` from the Linux UAPI header.
pub const KEY_A: u16 = 30;
/// `KEY_S` from the Linux UAPI header.
pub const KEY_S: u16 = 31;
/// `KEY_D` from the Linux UAPI header.
pub const KEY_D: u16 = 32;
/// `KEY_F` from the Linux UAPI header.
pub const KEY_F: u16 = 33;
/// `KEY_G` from the Linux UAPI header.
pub const KEY_G: u16 = 34;
/// `KEY_H` from the Linux UAPI header.
pub const KEY_H: u16 = 35;
/// `KEY_J` from the Linux UAPI header.
pub const KEY_J: u16 = 36;
/// `KEY_K` from the Linux UAPI header.
pub const KEY_K: u16 = 37;
/// `KEY_L` from the Linux UAPI header.
pub const KEY_L: u16 = 38;
/// `KEY_SEMICOLON` from the Linux UAPI header.
pub const KEY_SEMICOLON: u16 = 39;
/// `KEY_APOSTROPHE` from the Linux UAPI header.
pub const KEY_APOSTROPHE: u16 = 40;
/// `KEY_GRAVE` from the Linux UAPI header.
pub const KEY_GRAVE: u16 = 41;
/// `KEY_LEFTSHIFT` from the Linux UAPI header.
pub const KEY_LEFTSHIFT: u16 = 42;
/// `KEY_BACKSLASH` from the Linux UAPI header.
pub const KEY_BACKSLASH: u16 = 43;
/// `KEY_Z` from the Linux UAPI header.
pub const KEY_Z: u16 = 44;
/// `KEY_X` from the Linux UAPI header.
pub const KEY_X: u16 = 45;
/// `KEY_C` from the Linux UAPI header.
pub const KEY_C: u16 = 46;
/// `KEY_V` from the Linux UAPI header.
pub const KEY_V: u16 = 47;
/// `KEY_B` from the Linux UAPI header.
pub const KEY_B: u16 = 48;
/// `KEY_N` from the Linux UAPI header.
pub const KEY_N: u16 = 49;
/// `KEY_M` from the Linux UAPI header.
pub const KEY_M: u16 = 50;
/// `KEY_COMMA` from the Linux UAPI header.
pub const KEY_COMMA: u16 = 51;
/// `KEY_DOT` from the Linux UAPI header.
pub const KEY_DOT: u16 = 52;
/// `KEY_SLASH` from the Linux UAPI header.
pub const KEY_SLASH: u16 = 53;
/// `KEY_RIGHTSHIFT` from the Linux UAPI header.
pub const KEY_RIGHTSHIFT: u16 = 54;
/// `KEY_KPASTERISK` from the Linux UAPI header.
pub const KEY_KPASTERISK: u16 = 55;
/// `KEY_LEFTALT` from the Linux UAPI header.
pub const KEY_LEFTALT: u16 = 56;
/// `KEY_SPACE` from the Linux UAPI header.
pub const KEY_SPACE: u16 = 57;
/// `KEY_CAPSLOCK` from the Linux UAPI header.
pub const KEY_CAPSLOCK: u16 = 58;
/// `KEY_KP7` from the Linux UAPI header.
pub const KEY_KP7: u16 = 71;
/// `KEY_KP8` from the Linux UAPI header.
pub const KEY_KP8: u16 = 72;
/// `KEY_KP9` from the Linux UAPI header.
pub const KEY_KP9: u16 = 73;
/// `KEY_KPMINUS` from the Linux UAPI header.
pub const KEY_KPMINUS: u16 = 74;
/// `KEY_KP4` from the Linux UAPI header.
pub const KEY_KP4: u16 = 75;
/// `KEY_KP5` from the Linux UAPI header.
pub const KEY_KP5: u16 = 76;
/// `KEY_KP6` from the Linux UAPI header.
pub const KEY_KP6: u16 = 77;
/// `KEY_KPPLUS` from the Linux UAPI header.
pub const KEY_KPPLUS: u16 = 78;
/// `KEY_KP1` from the Linux UAPI header.
pub const KEY_KP1: u16 = 79;
/// `KEY_KP2` from the Linux UAPI header.
pub const KEY_KP2: u16 = 80;
/// `KEY_KP3` from the Linux UAPI header.
pub const KEY_KP3: u16 = 81;
/// `KEY_KP0` from the Linux UAPI header.
pub const KEY_KP0: u16 = 82;
/// `KEY_KPDOT` from the Linux UAPI header.
pub const KEY_KPDOT: u16 = 83;
/// `KEY_102ND` from the Linux UAPI header.
pub const KEY_102ND: u16 = 86;
/// `KEY_KPENTER` from the Linux UAPI header.
pub const KEY_KPENTER: u16 = 96;
/// `KEY_RIGHTCTRL` from the Linux UAPI header.
pub const KEY_RIGHTCTRL: u16 = 97;
/// `KEY_KPSLASH` from the Linux UAPI header.
pub const KEY_KPSLASH: u16 = 98;
/// `KEY_RIGHTALT` from the Linux UAPI header.
pub const KEY_RIGHTALT: u16 = 100;
