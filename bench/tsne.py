"""t-SNE: embedlab.project(method="tsne") against scikit-learn's TSNE with its defaults.

Clustered synthetic 384-d unit vectors (20 clusters, as in the performance baselines). At
20,000 points both run in turns (scikit-learn twice — it takes over a minute each — embedlab
three times); trustworthiness (k=10) is computed for both maps with scikit-learn's formula, in
bounded memory (checked against scikit-learn itself on 1,500 points first). Also 5,000 points
(embedlab must take < 5 s) and 16 points (instant: < 0.3 s).
Targets: 20,000 points ratio ≥ 5× with trustworthiness ≥ scikit-learn's − 0.01; 5,000 < 5 s.
"""

from __future__ import annotations

from bench.common import Samples, clustered, figure, main, timed, trustworthiness


def run(quick: bool):
    from sklearn.manifold import TSNE
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    import embedlab

    x, _ = clustered(1500, seed=5)
    check = embedlab.project(x, method="pca")
    mine, theirs = trustworthiness(x, check), sk_trustworthiness(x, check, n_neighbors=10)
    if abs(mine - theirs) > 1e-6:
        raise AssertionError(f"blocked trustworthiness {mine} differs from scikit-learn's {theirs}")

    def sklearn_tsne(points):
        n = len(points)
        perplexity = embedlab.plan_projection(n, "tsne").perplexity  # 30, or less for tiny inputs
        return TSNE(perplexity=perplexity, random_state=0).fit_transform(points)

    def ours(points):
        return embedlab.project(points, method="tsne", random_state=0)

    figures = []
    big = 5000 if quick else 20_000
    sizes = [(big, 1 if quick else 2, 2 if quick else 3)]
    if not quick:
        sizes.append((5000, 1, 3))
    for n, peer_repeats, our_repeats in sizes:
        x, _ = clustered(n)
        peer, mine = Samples(), Samples()
        peer_points = our_points = None
        for i in range(max(peer_repeats, our_repeats)):
            if i < our_repeats:
                seconds, our_points = timed(lambda x=x: ours(x))
                mine.add(seconds)
            if i < peer_repeats:
                seconds, peer_points = timed(lambda x=x: sklearn_tsne(x))
                peer.add(seconds)
        t_ours, t_peer = trustworthiness(x, our_points), trustworthiness(x, peer_points)
        ratio = peer.median / mine.median
        plan = embedlab.plan_projection(n, "tsne", dim=x.shape[1])
        fast_enough = ratio >= 5 if n >= 20_000 else mine.median < 5
        figures.append(
            figure(
                f"tsne_{n}",
                f"t-SNE, {n:,} points, 384-d",
                mine,
                peer=peer,
                peer_name="sklearn TSNE (defaults)",
                target="≥ 5×, trust ≥ sklearn − 0.01" if n >= 20_000 else "< 5 s, trust ≥ sklearn − 0.01",
                met=fast_enough and t_ours >= t_peer - 0.01,
                trustworthiness=t_ours,
                peer_trustworthiness=t_peer,
                implementation=plan.implementation,
            )
        )
    x, _ = clustered(16, seed=3)
    tiny = {"peer": Samples(), "ours": Samples()}
    sklearn_tsne(x), ours(x)
    for _ in range(5):
        tiny["peer"].add(timed(lambda: sklearn_tsne(x))[0])
        tiny["ours"].add(timed(lambda: ours(x))[0])
    figures.append(
        figure(
            "tsne_16",
            "t-SNE, 16 points",
            tiny["ours"],
            peer=tiny["peer"],
            peer_name="sklearn TSNE (perplexity 5)",
            target="< 0.3 s",
            met=tiny["ours"].median < 0.3,
            implementation=embedlab.plan_projection(16, "tsne").implementation,
        )
    )
    return figures


if __name__ == "__main__":
    main(run)
