/* mg_optim.c -- see mg_optim.h.  Each loop body is one parameter's update. */
#include <math.h>
#include "mg_optim.h"

/* ATen's lerp: the form depends on the weight, for accuracy at both ends. */
static double lerp(double self, double end, double w)
{
    return (fabs(w) < 0.5) ? self + w * (end - self) : end - (end - self) * (1.0 - w);
}

/* The gradient as the update sees it: negated to maximize, plus L2 decay. */
static double grad_of(const mg_node *p, double weight_decay, int maximize)
{
    double g = maximize ? -p->gradient : p->gradient;
    if (weight_decay != 0.0) g = g + weight_decay * p->value;
    return g;
}

/* The momentum buffer starts as the parameter's first gradient (torch's
 * momentum_buffer is None until then). */
void mg_sgd_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                 double *steps, const mg_sgd_opts *o)
{
    double *buf = bufs[0];
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = idx[i];
        double g = grad_of(p[i], o->weight_decay, o->maximize);
        if (o->momentum != 0.0) {
            /* A parameter without a buffer when the step began starts one from
             * this gradient at each of its listings (torch reads every
             * listing's buffer before it updates any); a negative count marks
             * it so for the rest of the step. */
            if (steps[u] <= 0.0) {
                buf[u] = g;
                steps[u] -= 1.0;
            } else {
                buf[u] = buf[u] * o->momentum + (1.0 - o->dampening) * g;
                steps[u] += 1.0;
            }
            g = o->nesterov ? g + o->momentum * buf[u] : buf[u];
        }
        p[i]->value = p[i]->value + (-o->lr) * g;
    }
    for (i = 0; i < n; i++)
        if (steps[idx[i]] < 0.0) steps[idx[i]] = -steps[idx[i]];
}

/* The bias corrections of a step number: computed once for all the
 * parameters at the same step (usually all of them). */
typedef struct { double step, step_size, bc2_sqrt; } bias;

static void bias_for(bias *b, double step, const mg_adam_opts *o)
{
    double bias_correction1 = 1.0 - pow(o->beta1, step);
    double bias_correction2 = 1.0 - pow(o->beta2, step);
    b->step = step;
    b->step_size = o->lr / bias_correction1;
    b->bc2_sqrt = pow(bias_correction2, 0.5);
}

void mg_adam_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                  double *steps, const mg_adam_opts *o)
{
    double *exp_avg = bufs[0], *exp_avg_sq = bufs[1], *max_exp_avg_sq = bufs[2];
    bias b = {-1.0, 0.0, 0.0};
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = idx[i];
        double g, denom;
        steps[u] += 1.0;
        if (steps[u] != b.step) bias_for(&b, steps[u], o);
        if (o->decoupled && o->weight_decay != 0.0)
            p[i]->value = p[i]->value * (1.0 - o->lr * o->weight_decay);
        g = grad_of(p[i], o->decoupled ? 0.0 : o->weight_decay, o->maximize);
        exp_avg[u] = lerp(exp_avg[u], g, 1.0 - o->beta1);
        exp_avg_sq[u] = exp_avg_sq[u] * o->beta2 + (1.0 - o->beta2) * g * g;
        if (o->amsgrad) {
            if (exp_avg_sq[u] > max_exp_avg_sq[u] || isnan(exp_avg_sq[u]))
                max_exp_avg_sq[u] = exp_avg_sq[u];
            denom = sqrt(max_exp_avg_sq[u]) / b.bc2_sqrt + o->eps;
        } else {
            denom = sqrt(exp_avg_sq[u]) / b.bc2_sqrt + o->eps;
        }
        p[i]->value = p[i]->value + (-b.step_size) * exp_avg[u] / denom;
    }
}

void mg_rmsprop_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                     double *steps, const mg_rmsprop_opts *o)
{
    double *square_avg = bufs[0], *grad_avg = bufs[1], *buf = bufs[2];
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = idx[i];
        double g = grad_of(p[i], o->weight_decay, o->maximize), avg;
        steps[u] += 1.0;
        square_avg[u] = square_avg[u] * o->alpha + (1.0 - o->alpha) * g * g;
        if (o->centered) {
            grad_avg[u] = lerp(grad_avg[u], g, 1.0 - o->alpha);
            avg = sqrt(square_avg[u] + -1.0 * grad_avg[u] * grad_avg[u]);
        } else {
            avg = sqrt(square_avg[u]);
        }
        avg = avg + o->eps;
        if (o->momentum > 0.0) {
            buf[u] = buf[u] * o->momentum + 1.0 * g / avg;
            p[i]->value = p[i]->value + (-o->lr) * buf[u];
        } else {
            p[i]->value = p[i]->value + (-o->lr) * g / avg;
        }
    }
}

void mg_adagrad_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                     double *steps, const mg_adagrad_opts *o)
{
    double *state_sum = bufs[0];
    double clr = 0.0, at = -1.0;
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u = idx[i];
        double g = grad_of(p[i], o->weight_decay, o->maximize);
        double std;
        steps[u] += 1.0;
        if (steps[u] != at) {
            at = steps[u];
            clr = o->lr / (1.0 + (at - 1.0) * o->lr_decay);
        }
        state_sum[u] = state_sum[u] + 1.0 * g * g;
        std = sqrt(state_sum[u]) + o->eps;
        p[i]->value = p[i]->value + (-clr) * g / std;
    }
}
