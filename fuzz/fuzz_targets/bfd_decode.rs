//! Arbitrary datagrams on the BFD port must never panic the codec, and whatever decodes must
//! encode back to an equal packet.
#![no_main]

use elastic::bfd::wire::{decode, encode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(packet) => {
            assert_eq!(decode(&encode(&packet)), Ok(packet), "re-encoding changed it");
        }
        Err(error) => {
            let _ = (error.to_string(), error.reason());
        }
    }
});
