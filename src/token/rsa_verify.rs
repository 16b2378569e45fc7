//! RSA signature verification (RS256/384/512 and PS256/384/512) with Montgomery arithmetic written for wasm32.
//!
//! This replaces two earlier paths. The `rsa` crate computes s^e mod n with num-bigint-dig's generic `modpow`,
//! which redoes the Montgomery setup on every call (a bare RS256 check measured ~375 µs natively and ~1.4 ms in
//! Envoy's V8). crypto-bigint's `DynResidue`, which came next, keeps the parameters per key but works in
//! generic limb loops that store every partial product: ~200 µs per RS256 check inside the wasmtime host.
//! Here the modulus has a fixed width (2048, 3072 or 4096 bits: 64, 96 or 128 limbs of 32 bits, the widest
//! product wasm32 multiplies natively), its parameters are computed once at key load, and each Montgomery
//! product is one pass of product scanning with the reduction interleaved (Koç, Acar, Kaliski: "FIPS"), keeping
//! every column in a three-word accumulator instead of memory; squarings compute each cross product once. The
//! public exponent is applied with one square-and-multiply over its own bits (16 squarings and one product for
//! 65537). Columns are summed with `simd128` widening multiplies (`add_pairs!`), two neighbouring columns per
//! loop, eight products per column and turn, over operands padded with zero limbs, so that no column needs a
//! partial turn or a scalar tail; the widening is kept from being folded into the loads, which made LLVM emit
//! `i64x2.mul` (emulated by x64 engines in eight instructions) where `extmul` takes three. An RS256 check in V8
//! (Node 20): 85 µs before these three changes, 56 with extmul and padding, 48 with columns in pairs.
//!
//! Only the public operation runs here, on public inputs (key, message, signature), so nothing needs to be
//! constant time; what matters is that the encoded message is checked exactly as RFC 8017 writes it. The
//! differential test (`rsa_differential.rs`, against the `rsa` crate) and every Wycheproof RSA vector
//! (`vectors.rs`) hold this file to the reference; the tests below check the arithmetic against num-bigint.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// The hash of an RSA JWS algorithm; for PSS it is also MGF1's hash and fixes the salt length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaHash {
    Sha256,
    Sha384,
    Sha512,
}

impl RsaHash {
    /// The output length in octets.
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The hash of the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut digest = D::new();
            for part in parts {
                digest.update(part);
            }
            digest.finalize().to_vec()
        }
        match self {
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// The DER of DigestInfo up to the digest itself (RFC 8017 §9.2 note 1), with the NULL parameters.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
                0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
                0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
                0x04, 0x40,
            ],
        }
    }
}

/// The signature scheme of an RSA JWS algorithm (RFC 7518 §3.3 and §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    /// RSASSA-PKCS1-v1_5 (RS256/384/512).
    Pkcs1v15(RsaHash),
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash (PS256/384/512).
    Pss(RsaHash),
}

/// Why an RSA public key cannot be used by this verifier.
#[derive(Debug, thiserror::Error)]
pub enum RsaKeyError {
    #[error("the modulus has {bits} bits; at most 4096 are supported")]
    TooLarge { bits: usize },
    #[error("the modulus is even")]
    EvenModulus,
    #[error("the public exponent must be between 1 and 2^64 - 1")]
    Exponent,
}

/// Zero limbs on each side of a padded operand. A column is read in whole turns of [`TURN`] pairs, so it reads up
/// to `TURN - 1` pairs past its own; each of those pairs has one limb in this padding, which is zero, so the
/// column needs no partial turn and no scalar tail.
const PAD: usize = 8;

/// Pairs of limbs per turn of a column's loop.
const TURN: usize = 8;

/// Pairs per turn of a column's loop as built: wasm32's loop takes whole turns of [`TURN`]; natively a column is
/// one loop over its exact length, which LLVM vectorises for the host (tests run both ways).
const BUILT_TURN: usize = if cfg!(target_arch = "wasm32") { TURN } else { 1 };

/// Adds Σ x[t]·y[t] over `len` pairs (a multiple of [`TURN`]) from `x[x_at..]` and `y[y_at..]` to `$first`:
/// column k of a product, `y` reversed; and the same with `y` read one limb earlier to `$second`: column k + 1.
/// Two neighbouring columns at once load `x` once for both and halve the loops, their setup and their interrupt
/// checks (RS256 in V8: 55 → 48 µs). Limbs hold at most 28 bits, so every product is below 2^56 and a whole
/// column sums without a carry to track (see [`Montgomery`]). On wasm32 this is `simd128`, which V8 and wasmtime
/// both run: eight products per column and turn, two per widening multiply (`i64x2.extmul_{low,high}_i32x4_u`),
/// summed in the two 64-bit lanes of `$first` and `$second` (`v128`s; `u64`s elsewhere). A macro rather than a
/// function: the loop must be inlined into callers compiled with `simd128`, and `#[inline(always)]` cannot carry
/// the feature.
macro_rules! add_pairs {
    ($first:ident, $second:ident, $zero:ident, $x:expr, $x_at:expr, $y:expr, $y_at:expr, $len:expr) => {{
        let (x, y, x_at, y_at, len): (&[u32], &[u32], usize, usize, usize) = ($x, $y, $x_at, $y_at, $len);
        if let (Some(x), Some(y), Some(y_next)) =
            (x.get(x_at..x_at + len), y.get(y_at..y_at + len), y_at.checked_sub(1).and_then(|at| y.get(at..at + len)))
        {
            #[cfg(target_arch = "wasm32")]
            {
                use core::arch::wasm32::{u32x4, u64x2_add, u64x2_extmul_high_u32x4, u64x2_extmul_low_u32x4, v128_xor};
                let mut at = 0;
                while at < len {
                    let (
                        Some(&[x0, x1, x2, x3, x4, x5, x6, x7]),
                        Some(&[y0, y1, y2, y3, y4, y5, y6, y7]),
                        Some(&[z0, z1, z2, z3, z4, z5, z6, z7]),
                    ) = (
                        x.get(at..at + TURN).and_then(|chunk| <&[u32; TURN]>::try_from(chunk).ok()),
                        y.get(at..at + TURN).and_then(|chunk| <&[u32; TURN]>::try_from(chunk).ok()),
                        y_next.get(at..at + TURN).and_then(|chunk| <&[u32; TURN]>::try_from(chunk).ok()),
                    )
                    else {
                        break;
                    };
                    // XOR with a zero LLVM cannot see: otherwise it folds each half's widening into its own load
                    // (`v128.load32x2_u`) and multiplies with `i64x2.mul`, which x64 engines emulate in eight
                    // instructions where `extmul` takes three. LLVM turns four adjacent `u32`s into one
                    // `v128.load` (no `unsafe` load: only the host module may use `unsafe`).
                    let (a, c) = (v128_xor(u32x4(x0, x1, x2, x3), $zero), v128_xor(u32x4(x4, x5, x6, x7), $zero));
                    let (b, d) = (v128_xor(u32x4(y0, y1, y2, y3), $zero), v128_xor(u32x4(y4, y5, y6, y7), $zero));
                    let (e, f) = (v128_xor(u32x4(z0, z1, z2, z3), $zero), v128_xor(u32x4(z4, z5, z6, z7), $zero));
                    let low = u64x2_add(u64x2_extmul_low_u32x4(a, b), u64x2_extmul_high_u32x4(a, b));
                    let high = u64x2_add(u64x2_extmul_low_u32x4(c, d), u64x2_extmul_high_u32x4(c, d));
                    $first = u64x2_add($first, u64x2_add(low, high));
                    let low = u64x2_add(u64x2_extmul_low_u32x4(a, e), u64x2_extmul_high_u32x4(a, e));
                    let high = u64x2_add(u64x2_extmul_low_u32x4(c, f), u64x2_extmul_high_u32x4(c, f));
                    $second = u64x2_add($second, u64x2_add(low, high));
                    at += TURN;
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            {
                $first += x.iter().zip(y).map(|(&x, &y)| u64::from(x) * u64::from(y)).sum::<u64>();
                $second += x.iter().zip(y_next).map(|(&x, &y)| u64::from(x) * u64::from(y)).sum::<u64>();
            }
        }
    }};
}

/// Lanes that [`add_pairs!`] adds products to, all zero.
macro_rules! zero_lanes {
    () => {{
        #[cfg(target_arch = "wasm32")]
        let lanes = core::arch::wasm32::u64x2_splat(0);
        #[cfg(not(target_arch = "wasm32"))]
        let lanes = 0u64;
        lanes
    }};
}

/// The sum of `$lanes`, times 2 when `$double` is 1 (a shift).
macro_rules! lanes_sum {
    ($lanes:expr, $shift:expr) => {{
        #[cfg(target_arch = "wasm32")]
        let sum = {
            use core::arch::wasm32::u64x2_extract_lane;
            (u64x2_extract_lane::<0>($lanes) + u64x2_extract_lane::<1>($lanes)) << $shift
        };
        #[cfg(not(target_arch = "wasm32"))]
        let sum = $lanes << $shift;
        sum
    }};
}

/// `limbs` with `PAD` zero limbs on each side, in reverse order when `reverse` (as the second operand of a
/// column is read, so that both are read forwards: pair `j` of column `k` is `x[PAD + j]`, `y[PAD + L - 1 - k +
/// j]`).
fn padded<const L: usize, const S: usize>(limbs: &[u32; L], reverse: bool) -> [u32; S] {
    let mut out = [0u32; S];
    if let Some(slots) = out.get_mut(PAD..PAD + L) {
        slots.copy_from_slice(limbs);
        if reverse {
            slots.reverse();
        }
    }
    out
}

/// One: the number whose lowest limb is 1.
fn one<const L: usize>() -> [u32; L] {
    let mut one = [0u32; L];
    if let Some(first) = one.first_mut() {
        *first = 1;
    }
    one
}

/// Arithmetic modulo an odd `n` in Montgomery form, `n` held in `L` little-endian limbs of `W` bits, R =
/// 2^(W·L); padded operands have `S` = L + 2·PAD limbs. Limbs are narrower than wasm32's 32-bit multiply so that
/// a column of a product (at most 2L+1 products below 2^(2W), plus the carry from the column before) sums in one
/// u64 with nothing to carry: W = 28 for up to 110 limbs (3072 bits), W = 27 for 152 (4096 bits). The tests
/// check the bound at its worst.
#[derive(Debug)]
struct Montgomery<const L: usize, const W: u32, const S: usize> {
    n: [u32; L],
    /// `n` reversed and padded, as columns read it.
    n_reversed: [u32; S],
    /// -n^-1 mod 2^W.
    n0: u32,
    /// Pairs per turn: columns are read in lengths rounded up to a multiple of it ([`BUILT_TURN`]).
    turn: usize,
    /// R^2 mod n, which takes a number into Montgomery form.
    r2: [u32; L],
}

/// Whether `a >= b`, as numbers.
fn at_least<const L: usize>(a: &[u32; L], b: &[u32; L]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

impl<const L: usize, const W: u32, const S: usize> Montgomery<L, W, S> {
    const MASK: u32 = (1 << W) - 1;

    /// The parameters of `n`, or `None` if it is even (Montgomery arithmetic needs n odd) or below 3, or if `S`
    /// is not L + 2·PAD.
    fn new(n: [u32; L]) -> Option<Self> {
        Self::with_turn(n, BUILT_TURN)
    }

    /// As [`Self::new`], columns read in multiples of `turn` pairs: a power of two, at most PAD, a multiple of
    /// [`TURN`] on wasm32.
    fn with_turn(n: [u32; L], turn: usize) -> Option<Self> {
        let low = *n.first()?;
        if S != L + 2 * PAD || low & 1 == 0 || (n.iter().skip(1).all(|&limb| limb == 0) && low < 3) {
            return None;
        }
        if !turn.is_power_of_two() || turn > PAD || !turn.is_multiple_of(BUILT_TURN) {
            return None;
        }
        // Newton's iteration doubles the correct low bits of the inverse each step: 1 → 2 → ... → 32 (n odd).
        let mut inverse = 1u32;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u32.wrapping_sub(low.wrapping_mul(inverse)));
        }
        let mut params =
            Self { n, n_reversed: padded(&n, true), n0: inverse.wrapping_neg() & Self::MASK, turn, r2: [0; L] };
        // R·2^k mod n by doubling, with W·L = k·2^m and k odd; then m Montgomery squarings double the exponent
        // of 2 each time (x·x/R): R·2^(k·2^m) = R·R.
        let bits = W as usize * L;
        let squarings = bits.trailing_zeros();
        let mut x = one();
        for _ in 0..bits + (bits >> squarings) {
            params.double(&mut x);
        }
        for _ in 0..squarings {
            x = params.square(&x);
        }
        params.r2 = x;
        Some(params)
    }

    /// `a -= b` (for a ≥ b, or with the borrow out of the top limb dropped).
    fn subtract(a: &mut [u32; L], b: &[u32; L]) {
        let mut borrow = 0u32;
        for (x, &y) in a.iter_mut().zip(b) {
            let difference = x.wrapping_sub(y).wrapping_sub(borrow);
            *x = difference & Self::MASK;
            borrow = difference >> 31;
        }
    }

    /// `x = 2·x mod n`, for `x < n`.
    fn double(&self, x: &mut [u32; L]) {
        let mut carry = 0u32;
        for limb in x.iter_mut() {
            let doubled = (*limb << 1) | carry;
            *limb = doubled & Self::MASK;
            carry = doubled >> W;
        }
        if carry != 0 || at_least(x, &self.n) {
            Self::subtract(x, &self.n);
        }
    }

    /// The reduction's last step: `out` + `carry`·R is below 2n; returns it mod n.
    fn finish(&self, mut out: [u32; L], carry: u64) -> [u32; L] {
        if carry != 0 || at_least(&out, &self.n) {
            Self::subtract(&mut out, &self.n);
        }
        out
    }

    /// Zero, read from the padding of `n_reversed`, where the compiler cannot see that it is (see [`add_pairs!`]).
    #[cfg(target_arch = "wasm32")]
    #[target_feature(enable = "simd128")]
    fn opaque_zero(&self) -> core::arch::wasm32::v128 {
        match self.n_reversed.first_chunk::<4>() {
            Some(&[a, b, c, d]) => core::arch::wasm32::u32x4(a, b, c, d),
            None => core::arch::wasm32::u32x4(0, 0, 0, 0),
        }
    }

    /// `len` rounded up to whole turns.
    #[inline(always)]
    fn whole_turns(&self, len: usize) -> usize {
        // On wasm32 the turn can only be TURN (a multiple of it, at most PAD): a constant for the compiler.
        let turn = if cfg!(target_arch = "wasm32") { TURN } else { self.turn };
        // A power of two (checked at construction): no division per column.
        (len + turn - 1) & !(turn - 1)
    }

    /// The pairs (j, k-j) of column `k` with both limbs below L: `j` from `lo` to `hi`.
    #[inline(always)]
    fn bounds(k: usize) -> (usize, usize) {
        ((k + 1).saturating_sub(L), (k + 1).min(L))
    }

    /// Where columns `k` and `k + 1` (k even) are read together, as [`add_pairs!`] takes them: pairs `j`
    /// from column k's first to column k + 1's last, in whole turns. Each column's pairs outside its own meet a
    /// padding limb, as in a column read alone.
    #[inline(always)]
    fn pair_of_columns(&self, k: usize) -> (usize, usize, usize) {
        let (lo, _) = Self::bounds(k);
        let (_, hi) = Self::bounds(k + 1);
        (PAD + lo, PAD + L - 1 + lo - k, self.whole_turns(hi - lo))
    }

    /// Column k + 1's pair (k, 1) of m·n, which was read while m[k] was still zero (below L; none above).
    #[inline(always)]
    fn late_pair(&self, m: &[u32; S], k: usize) -> u64 {
        if k >= L {
            return 0;
        }
        let (mk, n1) = (m.get(PAD + k).copied().unwrap_or(0), self.n.get(1).copied().unwrap_or(0));
        u64::from(mk) * u64::from(n1)
    }

    /// Ends column `k` (whose sum is `acc`, the carry in included): below L, picks m[k] so that the column's low
    /// W bits become zero; from L on, writes the result's limb k - L. Leaves the carry into the next column.
    #[inline(always)]
    fn end_column(&self, acc: &mut u64, m: &mut [u32; S], out: &mut [u32; L], k: usize) {
        if k < L {
            let mk = (*acc as u32).wrapping_mul(self.n0) & Self::MASK;
            if let Some(slot) = m.get_mut(PAD + k) {
                *slot = mk;
            }
            *acc += u64::from(mk) * u64::from(self.n.first().copied().unwrap_or(1));
        } else if let Some(slot) = out.get_mut(k - L) {
            *slot = *acc as u32 & Self::MASK;
        }
        *acc >>= W;
    }

    /// a·b/R mod n, for a, b < n: product scanning with the reduction interleaved column by column (Koç, Acar,
    /// Kaliski's "FIPS" method). Column `k` of a·b and of m·n pair the same indices (m[k] is still zero while
    /// the column is summed), so one loop reads both; and columns go in pairs, k and k + 1, whose only pair
    /// not known when they are read, m[k]·n[1] of column k + 1, is added once m[k] is.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn multiply(&self, a: &[u32; L], b: &[u32; L]) -> [u32; L] {
        #[cfg(target_arch = "wasm32")]
        let zero = self.opaque_zero();
        let a: [u32; S] = padded(a, false);
        let b: [u32; S] = padded(b, true);
        let mut m = [0u32; S];
        let mut out = [0u32; L];
        let mut acc = 0u64;
        for k in (0..2 * L).step_by(2) {
            let (x_at, y_at, len) = self.pair_of_columns(k);
            let (mut first, mut second) = (zero_lanes!(), zero_lanes!());
            add_pairs!(first, second, zero, &a, x_at, &b, y_at, len);
            add_pairs!(first, second, zero, &m, x_at, &self.n_reversed, y_at, len);
            acc += lanes_sum!(first, 0);
            self.end_column(&mut acc, &mut m, &mut out, k);
            acc += lanes_sum!(second, 0) + self.late_pair(&m, k);
            self.end_column(&mut acc, &mut m, &mut out, k + 1);
        }
        self.finish(out, acc)
    }

    /// a·a/R mod n, for a < n: as [`Self::multiply`], with each cross product a[j]·a[k-j] computed once and
    /// doubled.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn square(&self, a: &[u32; L]) -> [u32; L] {
        #[cfg(target_arch = "wasm32")]
        let zero = self.opaque_zero();
        let a_reversed: [u32; S] = padded(a, true);
        let a: [u32; S] = padded(a, false);
        let mut m = [0u32; S];
        let mut out = [0u32; L];
        let mut acc = 0u64;
        for k in (0..2 * L).step_by(2) {
            let (x_at, y_at, len) = self.pair_of_columns(k);
            let (mut first, mut second) = (zero_lanes!(), zero_lanes!());
            add_pairs!(first, second, zero, &m, x_at, &self.n_reversed, y_at, len);
            // The cross products of both columns, (j, c - j) with j < c - j: read together up to column k + 1's
            // middle (k/2 + 1), in whole turns that end there, so the extra pairs lie before column k's first,
            // where one limb is padding. Column k's read includes its square a[k/2]², once: doubled with the
            // rest, then taken once away.
            let (lo, _) = Self::bounds(k);
            let top = k / 2 + 1;
            let turns = self.whole_turns(top - lo);
            let (mut cross, mut cross_next) = (zero_lanes!(), zero_lanes!());
            // Summed in this order, no partial sum is negative (wrapping in a release build would hide it).
            let (x_at, y_at) = (PAD + top - turns, PAD + L - 1 + top - turns - k);
            add_pairs!(cross, cross_next, zero, &a, x_at, &a_reversed, y_at, turns);
            let half = u64::from(a.get(PAD + k / 2).copied().unwrap_or(0));
            acc += lanes_sum!(cross, 1) - half * half + lanes_sum!(first, 0);
            self.end_column(&mut acc, &mut m, &mut out, k);
            acc += lanes_sum!(cross_next, 1) + lanes_sum!(second, 0) + self.late_pair(&m, k);
            self.end_column(&mut acc, &mut m, &mut out, k + 1);
        }
        self.finish(out, acc)
    }

    /// x^e mod n for x < n (not in Montgomery form) and `e` ≥ 1: left-to-right square-and-multiply in
    /// Montgomery form, except that an odd exponent's last product takes the plain x, which leaves the result
    /// out of Montgomery form without a conversion (RSA exponents are odd: 65537 costs 18 products).
    fn power(&self, x: &[u32; L], exponent: u64) -> [u32; L] {
        let top = u64::BITS - exponent.leading_zeros();
        if top <= 1 {
            return *x;
        }
        let base = self.multiply(x, &self.r2);
        let mut power = base;
        for bit in (1..top - 1).rev() {
            power = self.square(&power);
            if (exponent >> bit) & 1 == 1 {
                power = self.multiply(&power, &base);
            }
        }
        power = self.square(&power);
        if exponent & 1 == 1 {
            self.multiply(&power, x)
        } else {
            self.multiply(&power, &one())
        }
    }
}

/// `bytes` (big-endian) as `L` little-endian limbs of `W` bits, or `None` if the value does not fit.
fn limbs_from_be<const L: usize, const W: u32>(bytes: &[u8]) -> Option<[u32; L]> {
    let mut limbs = [0u32; L];
    let (mut pending, mut held, mut index) = (0u64, 0u32, 0usize);
    for &byte in bytes.iter().rev() {
        pending |= u64::from(byte) << held;
        held += 8;
        while held >= W {
            let limb = pending as u32 & ((1 << W) - 1);
            match limbs.get_mut(index) {
                Some(slot) => *slot = limb,
                None if limb != 0 => return None,
                None => {}
            }
            pending >>= W;
            held -= W;
            index += 1;
        }
    }
    match limbs.get_mut(index) {
        Some(slot) => *slot = pending as u32,
        None if pending != 0 => return None,
        None => {}
    }
    Some(limbs)
}

/// `limbs` (of `W` bits) as exactly `len` big-endian octets (I2OSP), or `None` if the value does not fit.
fn limbs_to_be<const L: usize, const W: u32>(limbs: &[u32; L], len: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    let (mut pending, mut held) = (0u64, 0u32);
    let mut out = bytes.iter_mut().rev();
    for &limb in limbs {
        pending |= u64::from(limb) << held;
        held += W;
        while held >= 8 {
            let byte = pending as u8;
            match out.next() {
                Some(slot) => *slot = byte,
                None if byte != 0 => return None,
                None => {}
            }
            pending >>= 8;
            held -= 8;
        }
    }
    match out.next() {
        Some(slot) => *slot = pending as u8,
        None if pending != 0 => return None,
        None => {}
    }
    Some(bytes)
}

/// Montgomery parameters of the modulus, in the smallest supported width that holds it (boxed: up to 2 KiB).
#[derive(Debug)]
enum Modulus {
    /// 74 limbs of 28 bits: 2072 bits.
    Bits2048(Box<Montgomery<74, 28, 90>>),
    /// 110 limbs of 28 bits: 3080 bits.
    Bits3072(Box<Montgomery<110, 28, 126>>),
    /// 152 limbs of 27 bits: 4104 bits.
    Bits4096(Box<Montgomery<152, 27, 168>>),
}

/// An RSA public key bound to one padding, ready to verify signatures.
#[derive(Debug)]
pub struct RsaVerifier {
    modulus: Modulus,
    /// k: the modulus length in octets, which is every signature's length.
    len: usize,
    /// The modulus length in bits.
    bits: usize,
    exponent: u64,
    padding: RsaPadding,
}

/// Montgomery parameters for `modulus` (big-endian), or `None` if it is even or does not fit `L` limbs.
fn params<const L: usize, const W: u32, const S: usize>(modulus: &[u8]) -> Option<Box<Montgomery<L, W, S>>> {
    Montgomery::new(limbs_from_be::<L, W>(modulus)?).map(Box::new)
}

/// RSAVP1 then I2OSP (RFC 8017 §5.2.2, §8.1.2 step 2): s^e mod n as `len` octets, or `None` if the signature is
/// not a representative below the modulus.
fn public_op<const L: usize, const W: u32, const S: usize>(
    params: &Montgomery<L, W, S>,
    signature: &[u8],
    exponent: u64,
    len: usize,
) -> Option<Vec<u8>> {
    let s = limbs_from_be::<L, W>(signature)?;
    if at_least(&s, &params.n) {
        return None;
    }
    limbs_to_be::<L, W>(&params.power(&s, exponent), len)
}

impl RsaVerifier {
    /// A verifier for the key (`modulus`, `exponent`), both big-endian without leading zero octets. The caller
    /// has already checked the key's strength.
    pub fn new(modulus: &[u8], exponent: &[u8], padding: RsaPadding) -> Result<Self, RsaKeyError> {
        let len = modulus.len();
        let leading = modulus.first().map_or(8, |byte| byte.leading_zeros() as usize);
        let bits = (8 * len).saturating_sub(leading);
        let too_large = RsaKeyError::TooLarge { bits };
        let modulus = if bits <= 2048 {
            Modulus::Bits2048(params(modulus).ok_or(RsaKeyError::EvenModulus)?)
        } else if bits <= 3072 {
            Modulus::Bits3072(params(modulus).ok_or(RsaKeyError::EvenModulus)?)
        } else if bits <= 4096 {
            Modulus::Bits4096(params(modulus).ok_or(RsaKeyError::EvenModulus)?)
        } else {
            return Err(too_large);
        };
        if exponent.len() > 8 {
            return Err(RsaKeyError::Exponent);
        }
        let exponent = exponent.iter().fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
        if exponent == 0 {
            return Err(RsaKeyError::Exponent);
        }
        Ok(Self { modulus, len, bits, exponent, padding })
    }

    /// Whether `signature` is this key's signature of `message` under its padding. Any length is safe.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 §8.1.2 and §8.2.2 step 1: the signature is exactly k octets.
        if signature.len() != self.len {
            return false;
        }
        let encoded = match &self.modulus {
            Modulus::Bits2048(params) => public_op(params, signature, self.exponent, self.len),
            Modulus::Bits3072(params) => public_op(params, signature, self.exponent, self.len),
            Modulus::Bits4096(params) => public_op(params, signature, self.exponent, self.len),
        };
        let Some(encoded) = encoded else {
            return false;
        };
        match self.padding {
            RsaPadding::Pkcs1v15(hash) => pkcs1v15_encode(hash, message, self.len).is_some_and(|em| em == encoded),
            RsaPadding::Pss(hash) => pss_verify(hash, message, &encoded, self.bits.saturating_sub(1)),
        }
    }
}

/// EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2): the one encoded message a valid signature of `message` decodes to.
/// Building it and comparing whole refuses every other spelling (short padding, DigestInfo variants, garbage).
fn pkcs1v15_encode(hash: RsaHash, message: &[u8], len: usize) -> Option<Vec<u8>> {
    let prefix = hash.digest_info_prefix();
    let digest = hash.digest(&[message]);
    let t_len = prefix.len() + digest.len();
    // Step 3: emLen < tLen + 11 is "intended encoded message length too short"; PS is at least 8 octets.
    let ps_len = len.checked_sub(t_len + 3).filter(|&ps_len| ps_len >= 8)?;
    let mut encoded = Vec::with_capacity(len);
    encoded.extend_from_slice(&[0x00, 0x01]);
    encoded.resize(2 + ps_len, 0xff);
    encoded.push(0x00);
    encoded.extend_from_slice(prefix);
    encoded.extend_from_slice(&digest);
    Some(encoded)
}

/// MGF1 (RFC 8017 §B.2.1) of `seed`, XORed into `out`.
fn mgf1_xor(hash: RsaHash, seed: &[u8], out: &mut [u8]) {
    for (chunk, counter) in out.chunks_mut(hash.len()).zip(0u32..) {
        let mask = hash.digest(&[seed, &counter.to_be_bytes()]);
        for (byte, mask) in chunk.iter_mut().zip(mask) {
            *byte ^= mask;
        }
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen (RFC 7518 §3.5), over RSAVP1's `k`-octet output. The
/// step numbers are the RFC's.
fn pss_verify(hash: RsaHash, message: &[u8], output: &[u8], em_bits: usize) -> bool {
    let h_len = hash.len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // §8.1.2 step 2c, I2OSP(m, emLen): when modBits - 1 is a multiple of 8, EM is one octet shorter than k,
    // and the octet it leaves out must be zero.
    let Some((excess, em)) = output.len().checked_sub(em_len).and_then(|excess| output.split_at_checked(excess)) else {
        return false;
    };
    if excess.iter().any(|&byte| byte != 0) {
        return false;
    }
    // 3.
    if em_len < h_len + s_len + 2 {
        return false;
    }
    // 4.
    let Some((&0xbc, rest)) = em.split_last() else {
        return false;
    };
    // 5.
    let Some((masked_db, h)) = rest.split_at_checked(em_len - h_len - 1) else {
        return false;
    };
    // 6. The leftmost 8·emLen − emBits bits of maskedDB must be zero.
    let unused_bits = 8 * em_len - em_bits;
    let Some(&first) = masked_db.first() else {
        return false;
    };
    if first & !(0xff_u8 >> unused_bits) != 0 {
        return false;
    }
    // 7, 8.
    let mut db = masked_db.to_vec();
    mgf1_xor(hash, h, &mut db);
    // 9.
    if let Some(first) = db.first_mut() {
        *first &= 0xff_u8 >> unused_bits;
    }
    // 10. emLen − hLen − sLen − 2 zero octets, then 0x01.
    let Some((zeros, rest)) = db.split_at_checked(em_len - h_len - s_len - 2) else {
        return false;
    };
    if zeros.iter().any(|&byte| byte != 0) {
        return false;
    }
    // 11. What follows the 0x01 is the salt, sLen octets by construction.
    let Some((&0x01, salt)) = rest.split_first() else {
        return false;
    };
    // 12, 13, 14.
    let m_hash = hash.digest(&[message]);
    hash.digest(&[&[0u8; 8], &m_hash, salt]) == h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn octets_round_trip_and_refuse_what_does_not_fit() {
        let bytes: Vec<u8> = (1..=255).collect();
        let value = limbs_from_be::<74, 28>(&bytes).unwrap();
        assert!(value.iter().all(|&limb| limb < 1 << 28));
        assert_eq!(limbs_to_be::<74, 28>(&value, 256).unwrap()[1..], bytes[..]);
        assert_eq!(limbs_to_be::<74, 28>(&value, 255).unwrap(), bytes);
        assert_eq!(limbs_to_be::<74, 28>(&value, 254), None);
        assert!(limbs_from_be::<74, 28>(&[1; 260]).is_none());
        assert!(limbs_from_be::<74, 28>(&[0; 300]).is_some());
        // 2072 bits fit 74 limbs of 28 bits; one more does not.
        let mut widest = vec![0xff; 259];
        assert!(limbs_from_be::<74, 28>(&widest).is_some());
        widest.insert(0, 1);
        assert!(limbs_from_be::<74, 28>(&widest).is_none());
        let odd = limbs_from_be::<3, 27>(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(
            limbs_to_be::<3, 27>(&odd, 11).unwrap(),
            [0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    /// x^e mod n against num-bigint for a random odd modulus of `bits` bits, random bases (and the extremes 0, 1,
    /// n-1), and exponents that exercise squarings and products in every order.
    fn powers_agree_with_num_bigint<const L: usize, const W: u32, const S: usize>(
        rng: &mut rand::rngs::StdRng,
        bits: usize,
        all_ones: bool,
    ) {
        use rand::RngCore;
        use rsa::BigUint;
        let mut modulus = vec![0u8; bits.div_ceil(8)];
        rng.fill_bytes(&mut modulus);
        if all_ones {
            // Every limb at its largest: the column sums' worst case.
            modulus.fill(0xff);
        }
        let unused = 8 * modulus.len() - bits;
        modulus[0] = (modulus[0] & (0xff >> unused)) | (0x80 >> unused);
        *modulus.last_mut().unwrap() |= 1;
        let limbs = limbs_from_be::<L, W>(&modulus).unwrap();
        // As built, and with the columns in wasm32's whole turns (natively: the padded lengths wasm32 reads).
        let ways = [Montgomery::<L, W, S>::new(limbs).unwrap(), Montgomery::<L, W, S>::with_turn(limbs, TURN).unwrap()];
        let n = BigUint::from_bytes_be(&modulus);
        for round in 0..6 {
            let mut x = vec![0u8; modulus.len()];
            rng.fill_bytes(&mut x);
            let x = match round {
                0 => BigUint::from(0u8),
                1 => BigUint::from(1u8),
                2 => &n - 1u8,
                _ => BigUint::from_bytes_be(&x) % &n,
            };
            for exponent in [1u64, 2, 3, 4, 5, 17, 65_537, 0xffff_ffff_ffff_ffff, rng.next_u64() | 1, rng.next_u64()] {
                if exponent == 0 {
                    continue;
                }
                let expected = x.modpow(&BigUint::from(exponent), &n);
                for params in &ways {
                    let got = params.power(&limbs_from_be::<L, W>(&x.to_bytes_be()).unwrap(), exponent);
                    let got = BigUint::from_bytes_be(&limbs_to_be::<L, W>(&got, modulus.len()).unwrap());
                    assert_eq!(got, expected, "{bits} bits, e = {exponent}, round {round}, turn {}", params.turn);
                }
            }
        }
    }

    #[test]
    fn montgomery_powers_agree_with_num_bigint() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_2048);
        for all_ones in [true, false, false] {
            powers_agree_with_num_bigint::<74, 28, 90>(&mut rng, 2048, all_ones);
            powers_agree_with_num_bigint::<74, 28, 90>(&mut rng, 2072, all_ones);
            powers_agree_with_num_bigint::<74, 28, 90>(&mut rng, 1999, all_ones);
            powers_agree_with_num_bigint::<110, 28, 126>(&mut rng, 3072, all_ones);
            powers_agree_with_num_bigint::<110, 28, 126>(&mut rng, 3080, all_ones);
            powers_agree_with_num_bigint::<110, 28, 126>(&mut rng, 2049, all_ones);
            powers_agree_with_num_bigint::<152, 27, 168>(&mut rng, 4096, all_ones);
            powers_agree_with_num_bigint::<152, 27, 168>(&mut rng, 4104, all_ones);
            powers_agree_with_num_bigint::<152, 27, 168>(&mut rng, 3500, all_ones);
        }
        // The smallest widths run through the same code paths.
        for _ in 0..100 {
            powers_agree_with_num_bigint::<1, 28, 17>(&mut rng, 28, false);
            powers_agree_with_num_bigint::<2, 28, 18>(&mut rng, 29, false);
            powers_agree_with_num_bigint::<3, 27, 19>(&mut rng, 81, false);
            powers_agree_with_num_bigint::<5, 28, 21>(&mut rng, 140, true);
        }
        // Columns of every length around whole turns of the padded loops (7, 8, 9, 15, 16, 17 limbs), at their
        // worst (all ones) and at random.
        for all_ones in [true, false] {
            for _ in 0..20 {
                powers_agree_with_num_bigint::<7, 28, 23>(&mut rng, 196, all_ones);
                powers_agree_with_num_bigint::<8, 28, 24>(&mut rng, 221, all_ones);
                powers_agree_with_num_bigint::<9, 27, 25>(&mut rng, 243, all_ones);
                powers_agree_with_num_bigint::<15, 28, 31>(&mut rng, 420, all_ones);
                powers_agree_with_num_bigint::<16, 28, 32>(&mut rng, 448, all_ones);
                powers_agree_with_num_bigint::<17, 27, 33>(&mut rng, 450, all_ones);
            }
        }
    }

    #[test]
    fn padded_widths_and_turns_must_fit_the_padding() {
        let n = limbs_from_be::<74, 28>(&[0xff; 256]).unwrap();
        assert!(Montgomery::<74, 28, 90>::new(n).is_some());
        assert!(Montgomery::<74, 28, 89>::new(n).is_none());
        assert!(Montgomery::<74, 28, 91>::new(n).is_none());
        assert!(Montgomery::<74, 28, 90>::with_turn(n, 0).is_none());
        assert!(Montgomery::<74, 28, 90>::with_turn(n, PAD + 1).is_none());
        assert!(Montgomery::<74, 28, 90>::with_turn(n, 6).is_none());
    }

    #[test]
    fn digest_info_prefixes_end_with_the_digest_length() {
        for hash in [RsaHash::Sha256, RsaHash::Sha384, RsaHash::Sha512] {
            let prefix = hash.digest_info_prefix();
            assert_eq!(usize::from(prefix[prefix.len() - 1]), hash.len());
            assert_eq!(usize::from(prefix[1]), prefix.len() - 2 + hash.len());
            assert_eq!(hash.digest(&[b"abc"]).len(), hash.len());
        }
    }

    #[test]
    fn keys_out_of_range_are_refused() {
        let pkcs = RsaPadding::Pkcs1v15(RsaHash::Sha256);
        assert!(matches!(RsaVerifier::new(&[0xff; 513], &[1, 0, 1], pkcs), Err(RsaKeyError::TooLarge { .. })));
        assert!(matches!(RsaVerifier::new(&[0xfe; 256], &[1, 0, 1], pkcs), Err(RsaKeyError::EvenModulus)));
        assert!(matches!(RsaVerifier::new(&[0xff; 256], &[], pkcs), Err(RsaKeyError::Exponent)));
        assert!(matches!(RsaVerifier::new(&[0xff; 256], &[1; 9], pkcs), Err(RsaKeyError::Exponent)));
        assert!(RsaVerifier::new(&[0xff; 384], &[3], pkcs).is_ok());
    }
}
