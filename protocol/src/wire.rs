//! Wire primitives shared by the packet codecs: variable byte integers, UTF-8
//! strings, binary data, fixed header.
