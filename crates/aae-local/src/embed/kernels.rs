//! The numeric kernels of the BERT forward pass, in safe Rust, parallel over the rayon pool:
//! matrix products through `ndarray` (whose f32 product is `matrixmultiply`'s, with runtime
//! AVX-512/AVX2/FMA dispatch), layer norm, exact (erf) GELU and per-sequence attention.
//!
//! The elementwise code is written branch-free (`exp` by range reduction and bit assembly, `erf`
//! by Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7) so the compiler vectorises it.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// A dense layer: `outputs × inputs` weights (row-major, as stored by PyTorch) and a bias.
#[derive(Debug)]
pub(crate) struct Linear {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
}

/// Layer normalisation over the last dimension.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) eps: f32,
}

/// Rows of a matrix product below which splitting it across threads costs more than it saves.
const MIN_ROWS_PER_TASK: usize = 16;

/// `out[rows × outputs] = input[rows × inputs] · weightᵀ + bias`, the rows split evenly over the
/// pool's threads (each part one single-threaded product over the shared, read-only weights).
/// Splitting the outputs instead (each part packing the whole input) measured slower here.
pub(crate) fn linear(input: &[f32], layer: &Linear, out: &mut [f32]) {
    let (k, n) = (layer.inputs, layer.outputs);
    let rows = input.len() / k;
    debug_assert_eq!(input.len(), rows * k);
    debug_assert_eq!(out.len(), rows * n);
    if rows == 0 {
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let rows_per_task = rows.div_ceil(threads).max(MIN_ROWS_PER_TASK);
    let weight = ArrayView2::from_shape((n, k), &layer.weight).expect("weights are outputs × inputs by construction");
    out.par_chunks_mut(rows_per_task * n).zip(input.par_chunks(rows_per_task * k)).for_each(|(out, input)| {
        let m = input.len() / k;
        for row in out.chunks_exact_mut(n) {
            row.copy_from_slice(&layer.bias);
        }
        let a = ArrayView2::from_shape((m, k), input).expect("rows × inputs by construction");
        let mut c = ArrayViewMut2::from_shape((m, n), out).expect("rows × outputs by construction");
        general_mat_mul(1.0, &a, &weight.t(), 1.0, &mut c);
    });
}

/// `x = LayerNorm(x + residual)` row by row (`x` alone without a residual).
pub(crate) fn add_layer_norm(x: &mut [f32], residual: Option<&[f32]>, norm: &LayerNorm) {
    let width = norm.weight.len();
    match residual {
        Some(residual) => {
            x.par_chunks_mut(width).zip(residual.par_chunks(width)).with_min_len(32).for_each(|(row, residual)| {
                for (value, add) in row.iter_mut().zip(residual) {
                    *value += add;
                }
                normalize_row(row, norm);
            });
        }
        None => x.par_chunks_mut(width).with_min_len(32).for_each(|row| normalize_row(row, norm)),
    }
}

fn normalize_row(row: &mut [f32], norm: &LayerNorm) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let variance = row.iter().map(|v| (v - mean) * (v - mean)).fold(0.0, |a, b| a + b) / n;
    let inverse = 1.0 / (variance + norm.eps).sqrt();
    for ((value, weight), bias) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
        *value = (*value - mean) * inverse * weight + bias;
    }
}

/// GELU in its exact form, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, as BERT's `"gelu"`.
pub(crate) fn gelu(xs: &mut [f32]) {
    xs.par_chunks_mut(4096).for_each(|chunk| {
        for x in chunk {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
}

/// Self-attention of packed sequences: `qkv` holds, per token, its query, key and value
/// (`3 × hidden`); `lengths` says how many consecutive tokens belong to each sequence. Tokens
/// attend only within their own sequence, so no padding or mask is needed. Writes the
/// per-token context (`hidden`) into `context`.
pub(crate) fn attention(qkv: &[f32], lengths: &[usize], heads: usize, context: &mut [f32]) {
    let hidden = context.len() / lengths.iter().sum::<usize>().max(1);
    let mut work = Vec::with_capacity(lengths.len());
    let (mut qkv_rest, mut context_rest) = (qkv, context);
    for &len in lengths {
        let (qkv_part, qkv_tail) = qkv_rest.split_at(len * 3 * hidden);
        let (context_part, context_tail) = context_rest.split_at_mut(len * hidden);
        work.push((qkv_part, context_part));
        (qkv_rest, context_rest) = (qkv_tail, context_tail);
    }
    work.into_par_iter()
        .for_each_init(Vec::new, |scores, (qkv, context)| sequence_attention(qkv, context, heads, hidden, scores));
}

fn sequence_attention(qkv: &[f32], context: &mut [f32], heads: usize, hidden: usize, scores: &mut Vec<f32>) {
    let len = context.len() / hidden;
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let stride = 3 * hidden;
    scores.clear();
    scores.resize(len, 0.0);
    for head in 0..heads {
        let (q_at, k_at, v_at) = (head * head_dim, hidden + head * head_dim, 2 * hidden + head * head_dim);
        for i in 0..len {
            let query = &qkv[i * stride + q_at..][..head_dim];
            let mut max = f32::NEG_INFINITY;
            for (j, score) in scores.iter_mut().enumerate() {
                *score = dot(query, &qkv[j * stride + k_at..][..head_dim]) * scale;
                max = max.max(*score);
            }
            let mut total = 0.0;
            for score in scores.iter_mut() {
                *score = exp(*score - max);
                total += *score;
            }
            let inverse = 1.0 / total;
            let out = &mut context[i * hidden + q_at..][..head_dim];
            out.fill(0.0);
            for (j, &score) in scores.iter().enumerate() {
                let weight = score * inverse;
                for (o, v) in out.iter_mut().zip(&qkv[j * stride + v_at..][..head_dim]) {
                    *o += weight * v;
                }
            }
        }
    }
}

/// Dot product with eight partial sums (so it vectorises).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut partial = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            partial[lane] += x[lane] * y[lane];
        }
    }
    partial.iter().sum::<f32>() + tail
}

/// Sum with eight partial sums (so it vectorises).
fn sum(values: &[f32]) -> f32 {
    let mut partial = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for lane in 0..8 {
            partial[lane] += chunk[lane];
        }
    }
    partial.iter().sum::<f32>() + tail
}

/// `e^x` for f32 (relative error about 1e-7 on [-87, 88]; clamped outside): x = n·ln2 + r with
/// |r| ≤ ln2/2, Cephes' polynomial for e^r, 2^n assembled in the exponent bits.
pub(crate) fn exp(x: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + SHIFTER;
    let n = shifted - SHIFTER;
    let n_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits()) as i32;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let poly = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = poly * r * r + r + 1.0;
    e_r * f32::from_bits(((n_bits + 127) << 23) as u32)
}

/// The error function (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7).
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_standard_library() {
        for i in -870..=880 {
            let x = i as f32 * 0.1;
            let (ours, std) = (exp(x), x.exp());
            assert!(((ours - std) / std).abs() < 2e-7, "exp({x}) = {ours}, std says {std}");
        }
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37, "clamped below");
    }

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2) from tables; odd symmetry; limits.
        for (x, expected) in [(0.0, 0.0), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (6.0, 1.0)] {
            assert!((erf(x) - expected).abs() < 3e-7, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + expected).abs() < 3e-7, "erf({}) = {}", -x, erf(-x));
        }
    }

    #[test]
    fn linear_matches_a_naive_product_for_any_row_count() {
        let layer = Linear {
            weight: (0..5 * 7).map(|i| (i % 11) as f32 * 0.25 - 1.0).collect(),
            bias: (0..5).map(|i| i as f32).collect(),
            inputs: 7,
            outputs: 5,
        };
        for rows in [1, 3, 17, 40] {
            let input: Vec<f32> = (0..rows * 7).map(|i| (i % 13) as f32 * 0.1 - 0.5).collect();
            let mut out = vec![0.0; rows * 5];
            linear(&input, &layer, &mut out);
            for r in 0..rows {
                for o in 0..5 {
                    let expected: f32 =
                        layer.bias[o] + (0..7).map(|i| input[r * 7 + i] * layer.weight[o * 7 + i]).sum::<f32>();
                    assert!((out[r * 5 + o] - expected).abs() < 1e-4, "row {r} output {o}");
                }
            }
        }
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance_rows() {
        let norm = LayerNorm { weight: vec![1.0; 4], bias: vec![0.0; 4], eps: 1e-12 };
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 14.0];
        add_layer_norm(&mut x, Some(&[0.0; 8]), &norm);
        for row in x.chunks(4) {
            let mean: f32 = row.iter().sum::<f32>() / 4.0;
            let variance: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-6 && (variance - 1.0).abs() < 1e-4, "{row:?}");
        }
    }

    #[test]
    fn attention_stays_within_each_sequence() {
        // Two sequences (lengths 1 and 2), one head of width 2. A one-token sequence attends
        // only to itself, so its context is its own value whatever the other tokens hold.
        let hidden = 2;
        let token = |q: [f32; 2], k: [f32; 2], v: [f32; 2]| [q, k, v].concat();
        let qkv = [
            token([1.0, 0.0], [1.0, 0.0], [5.0, 6.0]),
            token([0.0, 1.0], [0.0, 9.0], [1.0, 1.0]),
            token([0.0, 1.0], [0.0, -9.0], [3.0, 3.0]),
        ]
        .concat();
        let mut context = vec![0.0; 3 * hidden];
        attention(&qkv, &[1, 2], 1, &mut context);
        assert_eq!(&context[..2], &[5.0, 6.0]);
        // Second sequence: the query (0, 1) strongly prefers the key (0, 9): context ≈ (1, 1).
        assert!((context[2] - 1.0).abs() < 1e-3 && (context[3] - 1.0).abs() < 1e-3, "{context:?}");
    }
}
