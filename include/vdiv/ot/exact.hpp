#pragma once
/// @file
/// Exact EMD: the transportation problem min <P, C> s.t. P 1 = a, P^T 1 = b, P >= 0, solved
/// by the transportation (network) simplex on the bipartite graph rows -> columns.
///
/// Why our own: cv::EMD (the paper's solver) and POT's ot.emd are general network-simplex
/// codes with per-call set-up; our problems are tiny and dense (N, M <= ~100), so a basis
/// kept as a spanning tree of N + M - 1 cells, a least-cost starting basis (already close
/// to optimal for cosine costs) and full (Dantzig) pricing solve them in a few pivots.
/// Works for N != M and any non-negative marginals; computes in double whatever T is.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <numeric>
#include <vector>

#include "cost.hpp"

namespace vdiv {

/// What one exact solve did.
struct exact_status {
  int pivots = 0;
  bool pivot_limit = false;  ///< stopped at the pivot limit: feasible, maybe not optimal
  double cost = 0;           ///< <P, C>, the EMD (equals ot.emd2 / cv::EMD for the same a, b, C)
};

/// Scratch space reused across pairs.
struct exact_workspace {
  std::vector<double> c, ra, rb, pot, flow;
  std::vector<int> bi, bj, deg, adj_start, adj, parent_edge, parent_node, depth,
      queue, path_a, path_b;
  std::vector<std::uint64_t> keys64, row_best;
  std::vector<char> alive_r, alive_c, is_basic, seen;
};

namespace detail {
/// One 64-bit key per cell, ordered as (float(c), index): the float's bits made monotonic
/// in its value, above the cell index.
inline void cell_keys(const std::vector<double>& c, std::vector<std::uint64_t>& keys) {
  keys.resize(c.size());
  for (std::size_t k = 0; k < c.size(); ++k) {
    const float f = static_cast<float>(c[k]);
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    const std::uint32_t mono = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    keys[k] = (std::uint64_t(mono) << 32) | k;
  }
}

/// The smallest key of a row among open columns (all ones when none is open).
inline std::uint64_t row_min(const std::uint64_t* row, const char* open, int m) {
  std::uint64_t best = ~std::uint64_t(0);
  for (int j = 0; j < m; ++j) {
    const std::uint64_t k = open[j] ? row[j] : ~std::uint64_t(0);
    best = k < best ? k : best;
  }
  return best;
}
}  // namespace detail

/// Optimal transport plan (written into `plan`, N x M) for cost C and marginals a, b (each
/// normalised to sum 1 in double first). `max_pivots` <= 0 picks 50 (N+M)^2 + 1000.
template <class T>
exact_status exact_plan(const row_matrix<T>& cost, const column_vector<T>& a,
                        const column_vector<T>& b, row_matrix<T>& plan, exact_workspace& ws,
                        int max_pivots = 0) {
  const int n = static_cast<int>(cost.rows()), m = static_cast<int>(cost.cols());
  const int nodes = n + m, nbasic = nodes - 1;
  exact_status st;
  ws.c.resize(static_cast<std::size_t>(n) * m);
  double cmax = 1.0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      const double v = static_cast<double>(cost(i, j));
      ws.c[i * m + j] = v;
      cmax = std::max(cmax, std::abs(v));
    }
  const double eps = 1e-12 * cmax;
  ws.ra.assign(n, 0.0);
  ws.rb.assign(m, 0.0);
  double sa = 0, sb = 0;
  for (int i = 0; i < n; ++i) sa += (ws.ra[i] = static_cast<double>(a(i)));
  for (int j = 0; j < m; ++j) sb += (ws.rb[j] = static_cast<double>(b(j)));
  for (auto& v : ws.ra) v /= sa;
  for (auto& v : ws.rb) v /= sb;

  // Least-cost starting basis: take the cheapest cell whose row and column are both open,
  // ship as much as possible, close exactly one of the two lines (both only at the very
  // end). Closing one line per step makes the N + M - 1 chosen cells a spanning tree.
  // "Cheapest" orders cells by (float(c), index), one 64-bit key per cell. Lines only close,
  // so the cheapest open cell is the minimum over open rows of each row's cheapest open
  // cell: rows keep theirs, and only the rows whose cheapest cell sat in a column that just
  // closed look again. That is O(N M) for the whole greedy, against a full sort of all N M
  // cells before (whose comparisons were half of the solve at N = 13; perf, 2026-12-03).
  // Float precision only orders the starting basis; optimality is decided in double below.
  detail::cell_keys(ws.c, ws.keys64);
  ws.alive_r.assign(n, 1);
  ws.alive_c.assign(m, 1);
  ws.row_best.resize(n);
  for (int i = 0; i < n; ++i) ws.row_best[i] = detail::row_min(ws.keys64.data() + i * m, ws.alive_c.data(), m);
  ws.bi.clear();
  ws.bj.clear();
  ws.flow.clear();
  int rows_open = n, cols_open = m;
  for (;;) {
    int i = -1;
    std::uint64_t best = ~std::uint64_t(0);
    for (int r = 0; r < n; ++r)
      if (ws.alive_r[r] && ws.row_best[r] < best) best = ws.row_best[i = r];
    const int j = static_cast<int>(best & 0xFFFFFFFFu) - i * m;
    const double f = std::min(ws.ra[i], ws.rb[j]);
    const bool close_row = rows_open == 1   ? false
                           : cols_open == 1 ? true
                                            : ws.ra[i] <= ws.rb[j];
    ws.bi.push_back(i);
    ws.bj.push_back(j);
    ws.flow.push_back(f);
    ws.ra[i] -= f;
    ws.rb[j] -= f;
    if (rows_open == 1 && cols_open == 1) break;
    if (close_row) {
      ws.alive_r[i] = 0;
      --rows_open;
    } else {
      ws.alive_c[j] = 0;
      --cols_open;
      for (int r = 0; r < n; ++r)
        if (ws.alive_r[r] && static_cast<int>(ws.row_best[r] & 0xFFFFFFFFu) - r * m == j)
          ws.row_best[r] = detail::row_min(ws.keys64.data() + r * m, ws.alive_c.data(), m);
    }
  }
  ws.is_basic.assign(ws.c.size(), 0);
  for (int e = 0; e < nbasic; ++e) ws.is_basic[ws.bi[e] * m + ws.bj[e]] = 1;

  const int limit = max_pivots > 0 ? max_pivots : 50 * nodes * nodes + 1000;
  ws.pot.resize(nodes);
  ws.deg.resize(nodes);
  ws.adj_start.resize(nodes + 1);
  ws.adj.resize(2 * nbasic);
  ws.parent_edge.resize(nodes);
  ws.parent_node.resize(nodes);
  ws.depth.resize(nodes);
  ws.queue.resize(nodes);
  ws.seen.resize(nodes);
  for (;;) {
    // Tree adjacency (CSR) and potentials u_i + v_j = c_ij on basic cells, rooted at row 0.
    std::fill(ws.deg.begin(), ws.deg.end(), 0);
    for (int e = 0; e < nbasic; ++e) {
      ++ws.deg[ws.bi[e]];
      ++ws.deg[n + ws.bj[e]];
    }
    ws.adj_start[0] = 0;
    for (int v = 0; v < nodes; ++v) ws.adj_start[v + 1] = ws.adj_start[v] + ws.deg[v];
    for (int v = 0; v < nodes; ++v) ws.deg[v] = ws.adj_start[v];
    for (int e = 0; e < nbasic; ++e) {
      ws.adj[ws.deg[ws.bi[e]]++] = e;
      ws.adj[ws.deg[n + ws.bj[e]]++] = e;
    }
    std::fill(ws.seen.begin(), ws.seen.end(), 0);
    int head = 0, tail = 0;
    ws.queue[tail++] = 0;
    ws.seen[0] = 1;
    ws.pot[0] = 0;
    ws.parent_edge[0] = -1;
    ws.parent_node[0] = -1;
    ws.depth[0] = 0;
    while (head < tail) {
      const int v = ws.queue[head++];
      for (int k = ws.adj_start[v]; k < ws.adj_start[v + 1]; ++k) {
        const int e = ws.adj[k];
        const int w = v < n ? n + ws.bj[e] : ws.bi[e];
        if (ws.seen[w]) continue;
        ws.seen[w] = 1;
        ws.pot[w] = ws.c[ws.bi[e] * m + ws.bj[e]] - ws.pot[v];
        ws.parent_edge[w] = e;
        ws.parent_node[w] = v;
        ws.depth[w] = ws.depth[v] + 1;
        ws.queue[tail++] = w;
      }
    }
    // Dantzig pricing: the most negative reduced cost enters.
    double best = -eps;
    int ei = -1, ej = -1;
    for (int i = 0; i < n; ++i) {
      const double ui = ws.pot[i];
      const double* ci = ws.c.data() + static_cast<std::size_t>(i) * m;
      const char* basic = ws.is_basic.data() + static_cast<std::size_t>(i) * m;
      for (int j = 0; j < m; ++j) {
        const double rc = ci[j] - ui - ws.pot[n + j];
        if (rc < best && !basic[j]) {
          best = rc;
          ei = i;
          ej = j;
        }
      }
    }
    if (ei < 0) break;
    if (st.pivots >= limit) {
      st.pivot_limit = true;
      break;
    }
    // The cycle closed by (ei, ej): tree path row ei ... column ej. Edges at even positions
    // from either end lose theta, the others gain it.
    ws.path_a.clear();
    ws.path_b.clear();
    for (int r = ei, s = n + ej; r != s;) {
      if (ws.depth[r] >= ws.depth[s]) {
        ws.path_a.push_back(ws.parent_edge[r]);
        r = ws.parent_node[r];
      } else {
        ws.path_b.push_back(ws.parent_edge[s]);
        s = ws.parent_node[s];
      }
    }
    double theta = std::numeric_limits<double>::infinity();
    int leave = -1;
    for (std::size_t k = 0; k < ws.path_a.size(); k += 2)
      if (ws.flow[ws.path_a[k]] < theta) theta = ws.flow[leave = ws.path_a[k]];
    for (std::size_t k = 0; k < ws.path_b.size(); k += 2)
      if (ws.flow[ws.path_b[k]] < theta) theta = ws.flow[leave = ws.path_b[k]];
    for (std::size_t k = 0; k < ws.path_a.size(); ++k) ws.flow[ws.path_a[k]] += (k % 2 ? theta : -theta);
    for (std::size_t k = 0; k < ws.path_b.size(); ++k) ws.flow[ws.path_b[k]] += (k % 2 ? theta : -theta);
    ws.is_basic[ws.bi[leave] * m + ws.bj[leave]] = 0;
    ws.bi[leave] = ei;
    ws.bj[leave] = ej;
    ws.flow[leave] = theta;
    ws.is_basic[ei * m + ej] = 1;
    ++st.pivots;
  }
  plan.setZero(n, m);
  double total = 0;
  for (int e = 0; e < nbasic; ++e) {
    plan(ws.bi[e], ws.bj[e]) = static_cast<T>(ws.flow[e]);
    total += ws.flow[e] * ws.c[ws.bi[e] * m + ws.bj[e]];
  }
  st.cost = total;
  return st;
}

/// Convenience: EMD (objective <P, C>) of one cost matrix with marginals a, b.
template <class T>
double exact_emd(const row_matrix<T>& cost, const column_vector<T>& a, const column_vector<T>& b,
                 row_matrix<T>* plan = nullptr) {
  VDIV_EXPECTS(a.size() == cost.rows() && b.size() == cost.cols(),
               "exact_emd: marginal sizes must match the cost matrix");
  exact_workspace ws;
  row_matrix<T> p;
  const auto st = exact_plan(cost, a, b, p, ws);
  if (plan) *plan = std::move(p);
  return st.cost;
}

}  // namespace vdiv
