//! Compressed sparse row matrices: the TF-IDF design matrix and its transpose
//! (the transpose makes the gradient a race-free parallel loop over features).

/// A CSR matrix of `f32` values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    /// Number of columns.
    pub n_cols: usize,
    /// Row `i` is `indptr[i]..indptr[i + 1]` of `indices`/`values`.
    pub indptr: Vec<usize>,
    /// Column of each stored value, increasing within a row.
    pub indices: Vec<u32>,
    /// Stored values.
    pub values: Vec<f32>,
}

impl Csr {
    /// Builds from per-row `(column, value)` lists (each sorted by column).
    pub fn from_rows(rows: &[Vec<(u32, f32)>], n_cols: usize) -> Csr {
        let nnz = rows.iter().map(Vec::len).sum();
        let mut m = Csr {
            n_cols,
            indptr: Vec::with_capacity(rows.len() + 1),
            indices: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
        };
        m.indptr.push(0);
        for r in rows {
            for &(j, v) in r {
                m.indices.push(j);
                m.values.push(v);
            }
            m.indptr.push(m.indices.len());
        }
        m
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Columns and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The transpose (rows become columns), in CSR form.
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.n_cols + 1];
        for &j in &self.indices {
            counts[j as usize + 1] += 1;
        }
        for j in 0..self.n_cols {
            counts[j + 1] += counts[j];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.indices.len()];
        let mut values = vec![0f32; self.values.len()];
        for i in 0..self.n_rows() {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let p = next[j as usize];
                indices[p] = i as u32;
                values[p] = v;
                next[j as usize] += 1;
            }
        }
        Csr {
            n_cols: self.n_rows(),
            indptr,
            indices,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_moves_every_value() {
        // [[1 0 2], [0 3 0]] -> [[1 0], [0 3], [2 0]]
        let m = Csr::from_rows(&[vec![(0, 1.0), (2, 2.0)], vec![(1, 3.0)]], 3);
        let t = m.transpose();
        assert_eq!(t.n_rows(), 3);
        assert_eq!(t.row(0), (&[0u32][..], &[1.0f32][..]));
        assert_eq!(t.row(1), (&[1u32][..], &[3.0f32][..]));
        assert_eq!(t.row(2), (&[0u32][..], &[2.0f32][..]));
        assert_eq!(t.transpose(), m);
    }
}
