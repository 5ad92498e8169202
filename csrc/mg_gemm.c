/* mg_gemm.c -- placeholder: the scalar loops of mg_gemm.h, exactly. */
#include "mg_gemm.h"

void mg_gemm_fwd(size_t J, size_t K, size_t n, const double *W,
                 const double *const *X, double *const *Y)
{
    size_t j, k, l;
    for (j = 0; j < J; j++)
        for (l = 0; l < n; l++) {
            double y = W[j * K] * X[0][l];
            for (k = 1; k < K; k++) y = y + W[j * K + k] * X[k][l];
            Y[j][l] = y;
        }
}

void mg_gemm_bwd_in(size_t J, size_t K, size_t n, const double *W,
                    const double *const *G, double *const *GX, const unsigned char *first)
{
    size_t t, k, l;
    for (k = 0; k < K; k++) {
        if (GX[k] == 0) continue;
        for (l = 0; l < n; l++) {
            double acc = (first && first[k]) ? 0.0 : GX[k][l];
            for (t = 0; t < J; t++) acc = acc + G[t][l] * W[t * K + k];
            GX[k][l] = acc;
        }
    }
}

void mg_gemm_bwd_w(size_t J, size_t K, size_t n, const double *const *G,
                   const double *const *X, double *GW)
{
    size_t j, k, l;
    for (j = 0; j < J; j++)
        for (k = 0; k < K; k++) {
            double acc = 0.0;
            for (l = 0; l < n; l++) acc = acc + G[j][l] * X[k][l];
            GW[j * K + k] = acc;
        }
}

const char *mg_gemm_path(void) { return "portable"; }

int mg_gemm_select(const char *name) { return name[0] == 'p' ? 0 : -1; }
