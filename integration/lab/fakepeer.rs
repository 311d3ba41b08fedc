//! Fake BGP peer (hostile input, full tables).
