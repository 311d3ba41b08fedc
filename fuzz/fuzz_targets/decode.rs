//! Arbitrary bytes from a peer must never panic the codec: walk them with `frame_len` as the
//! driver does, decode every frame under both AS-size contexts, and check that what decodes as
//! an OPEN or NOTIFICATION encodes back to an equal value.
#![no_main]

use elastic::bgp::wire::{
    DecodeContext, Message, decode, encode_notification, encode_open, frame_len,
};

fn check(message: &[u8], ctx: &DecodeContext) {
    match decode(message, ctx) {
        Ok(Message::Open(open)) => {
            let again = decode(&encode_open(&open), ctx);
            assert_eq!(again, Ok(Message::Open(open)), "OPEN re-encoding changed it");
        }
        Ok(Message::Notification(n)) => {
            let _ = n.to_string();
            let again = decode(&encode_notification(&n), ctx);
            assert_eq!(again, Ok(Message::Notification(n)), "NOTIFICATION re-encoding changed it");
        }
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for four_octet_as in [false, true] {
        let ctx = DecodeContext { four_octet_as };
        // The input as one message, whatever its length field says.
        check(data, &ctx);
        // The input as a stream.
        let mut rest = data;
        while let Ok(Some(length)) = frame_len(rest) {
            assert!((19..=4096).contains(&length) && length <= rest.len());
            check(&rest[..length], &ctx);
            rest = &rest[length..];
        }
    }
});
